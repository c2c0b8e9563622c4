#!/usr/bin/python3
"""Properties of the AWS CloudFormation template (deploy/aws/conclave.yaml), read as data
with a YAML loader that understands CloudFormation's short tags: every reference resolves;
the internet reaches exactly the public ports and nothing else (never 22); every disk, the
database, the secrets and the logs are encrypted with the stack's rotating KMS key; the
database sits in private subnets and is not public; no secret is written in the template;
IAM grants no wildcard action and Resource '*' only to the listed read-only actions; every
launch template requires IMDSv2; recordings never go to S3 or a snapshot. A negative suite
breaks copies of the template in memory and checks that each check catches its breakage,
so that none of them can pass vacuously."""

import copy
import os
import re
import subprocess
import unittest

import yaml

from conclave_harness import tap

ROOT = os.environ.get('CONCLAVE_SOURCE_ROOT',
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
TEMPLATE = os.path.join(ROOT, 'deploy', 'aws', 'conclave.yaml')

PSEUDO = {'AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition',
          'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix'}

# The only key allowed to encrypt anything: the template's own customer-managed key.
KEY = 'DataKey'

# What the internet may reach: (protocol, from port, to port). The media range is the
# bridges' [media] port_min..port_max, given as parameters.
PUBLIC_PORTS = {
    ('tcp', 443, 443), ('tcp', 5222, 5222), ('tcp', 5281, 5281),
    ('udp', 3478, 3478), ('tcp', 3478, 3478), ('tcp', 5349, 5349),
    ('udp', 'MediaPortMin', 'MediaPortMax'),
}
# Traffic between the stack's own groups: (to group, protocol, port, from group).
INTERNAL_PORTS = {
    ('XmppSecurityGroup', 'tcp', 5347, 'BridgeSecurityGroup'),   # component port
    ('BridgeSecurityGroup', 'tcp', 9472, 'XmppSecurityGroup'),   # bridge HTTP (metrics)
    ('DatabaseSecurityGroup', 'tcp', 5432, 'XmppSecurityGroup'),  # PostgreSQL
}

# The IAM rule. In identity policies (roles, policies, managed policies):
#  - an Action never contains '*' (so neither '*' nor 'service:*' nor 'service:Get*'),
#    and there is no NotAction or NotResource;
#  - Resource '*' is allowed only when every action of the statement is in
#    STAR_RESOURCE_READ_ONLY: read-only calls that IAM cannot scope to a resource;
#  - a resource ARN with a wildcard inside (e.g. instance/*) needs a Condition that
#    narrows it;
#  - the only managed policies are MANAGED_POLICIES.
# KMS key policies: Resource '*' there means "this key" and is required; their actions
# are listed one by one (kms: only, no wildcard) and no principal is '*'.
STAR_RESOURCE_READ_ONLY = {
    # Bridges find a free slot and the XMPP host finds the bridges' private addresses by
    # tag; DescribeInstances supports no resource-level permission.
    'ec2:DescribeInstances',
    # Prometheus's EC2 service discovery (on the XMPP host) reads the zones as well.
    'ec2:DescribeAvailabilityZones',
}
MANAGED_POLICIES = {'AmazonSSMManagedInstanceCore'}
SECRET_NAME = re.compile(r'password|secret|passphrase|token|private_?key|credential', re.I)
# Properties whose names look secret but hold no secret value (booleans, structures).
SECRET_NAME_OK = {'ManageMasterUserPassword', 'MasterUserSecret', 'GenerateSecretString',
                  'HttpTokens', 'ExcludeCharacters'}

# Attributes each resource type used here really has (GetAtt names that would fail at
# deploy time are caught here).
GETATT = {
    'AWS::KMS::Key': {'Arn', 'KeyId'},
    'AWS::RDS::DBInstance': {'Endpoint.Address', 'Endpoint.Port', 'MasterUserSecret.SecretArn',
                             'DBInstanceArn'},
    'AWS::EC2::LaunchTemplate': {'LatestVersionNumber', 'DefaultVersionNumber',
                                 'LaunchTemplateId'},
    'AWS::IAM::InstanceProfile': {'Arn'},
    'AWS::IAM::Role': {'Arn', 'RoleId'},
    'AWS::Logs::LogGroup': {'Arn'},
    'AWS::EC2::Instance': {'PrivateIp', 'PublicIp', 'AvailabilityZone', 'PrivateDnsName'},
    'AWS::EC2::EIP': {'PublicIp', 'AllocationId'},
    'AWS::EC2::SecurityGroup': {'GroupId', 'VpcId'},
    'AWS::EC2::VPC': {'CidrBlock', 'VpcId'},
    'AWS::EC2::Subnet': {'AvailabilityZone', 'SubnetId'},
}


# -- loading ------------------------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short forms, turned into their long forms."""


def _tag(tag, fn):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if fn == 'Fn::GetAtt' and isinstance(value, str):
            value = value.split('.', 1)
        return {fn: value}
    CfnLoader.add_constructor('!' + tag, construct)


for _t in ('Base64', 'Cidr', 'FindInMap', 'GetAtt', 'GetAZs', 'ImportValue', 'Join',
           'Select', 'Split', 'Sub', 'Transform', 'And', 'Equals', 'If', 'Not', 'Or'):
    _tag(_t, 'Fn::' + _t)
_tag('Ref', 'Ref')
_tag('Condition', 'Condition')


def load(path=TEMPLATE):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


# -- walking ------------------------------------------------------------------------------

def walk(node, path=()):
    """Every (path, value) in the tree, depth first."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, path + (i,))


def branches(node):
    """The values a node may take: both arms of an Fn::If, nothing for AWS::NoValue."""
    if isinstance(node, dict) and 'Fn::If' in node:
        out = []
        for arm in node['Fn::If'][1:]:
            out.extend(branches(arm))
        return out
    if node == {'Ref': 'AWS::NoValue'}:
        return []
    return [node]


def items(lst):
    """A list whose elements may be conditional, flattened over every branch."""
    out = []
    for x in branches(lst):
        for e in x if isinstance(x, list) else [x]:
            out.extend(branches(e))
    return out


def resources(t, rtype):
    return {n: r for n, r in t.get('Resources', {}).items() if r.get('Type') == rtype}


def is_key_ref(v):
    return v in ({'Ref': KEY}, {'Fn::GetAtt': [KEY, 'Arn']})


def sub_names(value):
    """Names a Fn::Sub string refers to, without its local variables."""
    if isinstance(value, list):
        text, local = value[0], set(value[1]) if len(value) > 1 else set()
    else:
        text, local = value, set()
    names = re.findall(r'\$\{(?!!)([^}]*)\}', text)
    return [n.strip() for n in names if n.strip() not in local]


def is_true(v):
    return v is True or v == 'true'


# -- checks: each returns a list of problems ----------------------------------------------

def check_structure(t):
    problems = []
    for key in t:
        if key not in ('AWSTemplateFormatVersion', 'Description', 'Metadata', 'Parameters',
                       'Mappings', 'Conditions', 'Transform', 'Resources', 'Outputs', 'Rules'):
            problems.append(f'unknown top-level section {key}')
    res = t.get('Resources') or {}
    params = t.get('Parameters') or {}
    conds = t.get('Conditions') or {}
    if not res:
        problems.append('no Resources')
    for name, r in res.items():
        if not isinstance(r, dict) or not str(r.get('Type', '')).startswith('AWS::'):
            problems.append(f'{name}: no AWS:: Type')
            continue
        if 'Condition' in r and r['Condition'] not in conds:
            problems.append(f'{name}: unknown condition {r["Condition"]}')
        deps = r.get('DependsOn', [])
        for d in [deps] if isinstance(deps, str) else deps:
            if d not in res:
                problems.append(f'{name}: DependsOn unknown {d}')
    known = set(res) | set(params) | PSEUDO
    used = set()
    for section in ('Resources', 'Outputs', 'Conditions'):
        for path, v in walk(t.get(section) or {}):
            if not isinstance(v, dict) or len(v) != 1:
                continue
            (fn, arg), = v.items()
            where = '/'.join(map(str, path))
            if fn == 'Ref':
                used.add(arg)
                if arg not in known:
                    problems.append(f'{where}: Ref to unknown {arg}')
            elif fn == 'Fn::GetAtt':
                target, attr = arg[0], arg[1]
                used.add(target)
                if target not in res:
                    problems.append(f'{where}: GetAtt of unknown resource {target}')
                else:
                    rtype = res[target]['Type']
                    if attr not in GETATT.get(rtype, set()):
                        problems.append(f'{where}: {rtype} has no attribute {attr}')
            elif fn == 'Fn::Sub':
                for n in sub_names(arg):
                    base = n.split('.', 1)[0]
                    used.add(base)
                    if '.' in n:
                        if base not in res:
                            problems.append(f'{where}: Sub ${{{n}}} of unknown resource')
                        elif n.split('.', 1)[1] not in GETATT.get(res[base]['Type'], set()):
                            problems.append(f'{where}: Sub ${{{n}}}: no such attribute')
                    elif n not in known:
                        problems.append(f'{where}: Sub ${{{n}}} refers to nothing')
            elif fn == 'Fn::If':
                if arg[0] not in conds:
                    problems.append(f'{where}: Fn::If on unknown condition {arg[0]}')
            elif fn == 'Condition' and section == 'Conditions' and arg not in conds:
                problems.append(f'{where}: unknown condition {arg}')
    for name, out in (t.get('Outputs') or {}).items():
        if 'Value' not in out:
            problems.append(f'Output {name}: no Value')
        if 'Condition' in out and out['Condition'] not in conds:
            problems.append(f'Output {name}: unknown condition {out["Condition"]}')
    for p in params:
        if p not in used:
            problems.append(f'Parameter {p} is never used')
    return problems


def _port(v, params):
    """A port: an int, or the name of a Number parameter."""
    if isinstance(v, dict) and 'Ref' in v:
        return v['Ref']
    return int(v)


def _port_range(v, params, low):
    """The numeric range a port may take (parameters: their MinValue..MaxValue)."""
    if isinstance(v, str) and not v.lstrip('-').isdigit():
        p = params.get(v, {})
        return int(p.get('MinValue', 0)), int(p.get('MaxValue', 65535))
    return int(v), int(v)


def ingress_rules(t):
    """(group, protocol, from, to, source) of every ingress rule; source is
    ('cidr', CIDR) or ('group', logical name) or ('other', value)."""
    params = t.get('Parameters') or {}
    rules = []

    def add(group, r):
        proto = str(r.get('IpProtocol'))
        frm = _port(r.get('FromPort', -1), params)
        to = _port(r.get('ToPort', -1), params)
        if 'CidrIp' in r:
            src = ('cidr', r['CidrIp'])
        elif 'CidrIpv6' in r:
            src = ('cidr', r['CidrIpv6'])
        elif 'SourceSecurityGroupId' in r and isinstance(r['SourceSecurityGroupId'], dict) \
                and 'Ref' in r['SourceSecurityGroupId']:
            src = ('group', r['SourceSecurityGroupId']['Ref'])
        else:
            src = ('other', repr({k: v for k, v in r.items() if k != 'Description'}))
        rules.append((group, proto, frm, to, src))

    for name, sg in resources(t, 'AWS::EC2::SecurityGroup').items():
        for r in items(sg.get('Properties', {}).get('SecurityGroupIngress', [])):
            add(name, r)
    for name, ing in resources(t, 'AWS::EC2::SecurityGroupIngress').items():
        p = ing.get('Properties', {})
        g = p.get('GroupId')
        add(g['Ref'] if isinstance(g, dict) and 'Ref' in g else repr(g), p)
    return rules


def check_ingress(t):
    problems = []
    public, internal = set(), set()
    for group, proto, frm, to, src in ingress_rules(t):
        if proto not in ('tcp', 'udp'):
            problems.append(f'{group}: protocol {proto} (only tcp or udp rules)')
        if src[0] == 'cidr':
            if src[1] not in ('0.0.0.0/0', '::/0'):
                problems.append(f'{group}: rule from {src[1]}: CIDR sources are for the '
                                'public ports only')
            rule = (proto, frm, to)
            if rule not in PUBLIC_PORTS:
                problems.append(f'{group}: {proto} {frm}-{to} open to {src[1]}')
            public.add(rule)
        elif src[0] == 'group':
            if frm != to:
                problems.append(f'{group}: internal rule over a port range {frm}-{to}')
            internal.add((group, proto, frm, src[1]))
        else:
            problems.append(f'{group}: rule from {src[1]}')
    if public != PUBLIC_PORTS:
        problems.append(f'public ports {sorted(map(str, public))} are not exactly '
                        f'{sorted(map(str, PUBLIC_PORTS))}')
    if internal != INTERNAL_PORTS:
        problems.append(f'internal rules {sorted(internal)} are not exactly '
                        f'{sorted(INTERNAL_PORTS)}')
    return problems


def check_no_ssh(t):
    problems = []
    params = t.get('Parameters') or {}
    for group, proto, frm, to, src in ingress_rules(t):
        lo = _port_range(frm, params, True)[0]
        hi = _port_range(to, params, False)[1]
        if proto in ('-1', 'all') or lo <= 22 <= hi:
            problems.append(f'{group}: {proto} {frm}-{to} may include port 22')
    for path, v in walk(t.get('Resources')):
        if path and path[-1] == 'KeyName':
            problems.append(f'{"/".join(map(str, path))}: an EC2 key pair')
    return problems


def block_devices(t):
    """(where, Ebs) of every block device of every launch template and instance."""
    out = []
    for name, lt in resources(t, 'AWS::EC2::LaunchTemplate').items():
        data = lt['Properties']['LaunchTemplateData']
        for bd in items(data.get('BlockDeviceMappings', [])):
            out.append((f'{name} {bd.get("DeviceName")}', bd.get('Ebs')))
    for name, inst in resources(t, 'AWS::EC2::Instance').items():
        for bd in items(inst['Properties'].get('BlockDeviceMappings', [])):
            out.append((f'{name} {bd.get("DeviceName")}', bd.get('Ebs')))
    return out


def check_ebs_encrypted(t):
    problems = []
    for where, ebs in block_devices(t):
        if not isinstance(ebs, dict):
            problems.append(f'{where}: not an EBS volume')
            continue
        if not is_true(ebs.get('Encrypted')):
            problems.append(f'{where}: not encrypted')
        if not is_key_ref(ebs.get('KmsKeyId')):
            problems.append(f'{where}: not encrypted with {KEY}')
    for name, vol in resources(t, 'AWS::EC2::Volume').items():
        p = vol.get('Properties', {})
        if not is_true(p.get('Encrypted')) or not is_key_ref(p.get('KmsKeyId')):
            problems.append(f'{name}: volume not encrypted with {KEY}')
    for name, lt in resources(t, 'AWS::EC2::LaunchTemplate').items():
        if not items(lt['Properties']['LaunchTemplateData'].get('BlockDeviceMappings', [])):
            problems.append(f'{name}: no block device mapping (root volume unencrypted?)')
    for name, inst in resources(t, 'AWS::EC2::Instance').items():
        if 'LaunchTemplate' not in inst['Properties']:
            problems.append(f'{name}: an instance without a launch template')
    for name, asg in resources(t, 'AWS::AutoScaling::AutoScalingGroup').items():
        if 'LaunchTemplate' not in asg['Properties']:
            problems.append(f'{name}: an Auto Scaling group without a launch template')
    return problems


def private_subnets(t):
    """Subnets whose route tables have no route to an internet gateway and that give no
    public IP."""
    res = t['Resources']
    public_tables = set()
    for r in resources(t, 'AWS::EC2::Route').values():
        p = r['Properties']
        if 'GatewayId' in p and res.get(p['GatewayId'].get('Ref'), {}).get('Type') == \
                'AWS::EC2::InternetGateway':
            public_tables.add(p['RouteTableId']['Ref'])
    table_of = {a['Properties']['SubnetId']['Ref']: a['Properties']['RouteTableId']['Ref']
                for a in resources(t, 'AWS::EC2::SubnetRouteTableAssociation').values()}
    return {n for n, s in resources(t, 'AWS::EC2::Subnet').items()
            if n in table_of and table_of[n] not in public_tables
            and not is_true(s['Properties'].get('MapPublicIpOnLaunch'))}


def check_database(t):
    problems = []
    dbs = resources(t, 'AWS::RDS::DBInstance')
    if not dbs:
        problems.append('no database')
    private = private_subnets(t)
    groups = resources(t, 'AWS::RDS::DBSubnetGroup')
    params = t.get('Parameters') or {}
    for name, db in dbs.items():
        p = db['Properties']
        if not is_true(p.get('StorageEncrypted')):
            problems.append(f'{name}: StorageEncrypted is not true')
        if not is_key_ref(p.get('KmsKeyId')):
            problems.append(f'{name}: not encrypted with {KEY}')
        if p.get('PubliclyAccessible') not in (False, 'false'):
            problems.append(f'{name}: PubliclyAccessible is not false')
        g = p.get('DBSubnetGroupName', {})
        gname = g.get('Ref') if isinstance(g, dict) else None
        if gname not in groups:
            problems.append(f'{name}: not in a DB subnet group of the stack')
        else:
            subnets = [s.get('Ref') for s in groups[gname]['Properties']['SubnetIds']]
            if len(subnets) < 2 or any(s not in private for s in subnets):
                problems.append(f'{name}: subnets {subnets} are not all private '
                                f'(private: {sorted(private)})')
            azs = {repr(t['Resources'][s]['Properties'].get('AvailabilityZone'))
                   for s in subnets if s in t['Resources']}
            if len(azs) < 2:
                problems.append(f'{name}: subnets in fewer than two availability zones')
        multi = p.get('MultiAZ')
        if not (isinstance(multi, dict) and multi.get('Ref') in params
                and set(params[multi['Ref']].get('AllowedValues', [])) == {'true', 'false'}):
            problems.append(f'{name}: MultiAZ is not a true/false parameter')
        if is_true(p.get('ManageMasterUserPassword')):
            if 'MasterUserPassword' in p:
                problems.append(f'{name}: both a managed and a given master password')
            secret_key = p.get('MasterUserSecret', {}).get('KmsKeyId')
            if not is_key_ref(secret_key):
                problems.append(f'{name}: master secret not encrypted with {KEY}')
        else:
            pw = p.get('MasterUserPassword')
            if not (isinstance(pw, str) and pw.startswith('{{resolve:secretsmanager:')):
                problems.append(f'{name}: master password neither managed nor resolved '
                                'from Secrets Manager')
        for path, v in walk(p):
            if path and path[-1] in ('SecurityGroups', 'VPCSecurityGroups'):
                for sg in v:
                    if sg != {'Ref': 'DatabaseSecurityGroup'}:
                        problems.append(f'{name}: security group {sg}')
    return problems


def check_no_plaintext_secret(t):
    problems = []
    for pname in t.get('Parameters') or {}:
        if SECRET_NAME.search(pname):
            problems.append(f'parameter {pname}: secrets never pass through parameters')
    for path, v in walk(t.get('Resources')):
        if not path or not isinstance(path[-1], str):
            continue
        key = path[-1]
        if SECRET_NAME.search(key) and key not in SECRET_NAME_OK and isinstance(v, str) \
                and not v.startswith('{{resolve:secretsmanager:') \
                and not v.startswith('{{resolve:ssm-secure:'):
            problems.append(f'{"/".join(map(str, path))}: a literal secret')
    for name, s in resources(t, 'AWS::SecretsManager::Secret').items():
        p = s['Properties']
        if 'SecretString' in p or 'GenerateSecretString' not in p:
            problems.append(f'{name}: not generated by Secrets Manager')
        if not is_key_ref(p.get('KmsKeyId')):
            problems.append(f'{name}: not encrypted with {KEY}')
    for name, s in resources(t, 'AWS::SSM::Parameter').items():
        problems.append(f'{name}: an SSM parameter in the template (its value would be inline)')
    for name, g in resources(t, 'AWS::Logs::LogGroup').items():
        if not is_key_ref(g['Properties'].get('KmsKeyId')):
            problems.append(f'{name}: log group not encrypted with {KEY}')
    return problems


def _list(v):
    return v if isinstance(v, list) else [v]


def policy_documents(t):
    """(where, document) of every identity policy."""
    docs = []
    for name, role in resources(t, 'AWS::IAM::Role').items():
        for pol in items(role['Properties'].get('Policies', [])):
            docs.append((f'{name}/{pol.get("PolicyName")}', pol['PolicyDocument']))
    for rtype in ('AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'):
        for name, pol in resources(t, rtype).items():
            docs.append((name, pol['Properties']['PolicyDocument']))
    return docs


def check_iam(t):
    problems = []
    for where, doc in policy_documents(t):
        for i, st in enumerate(items(doc.get('Statement', []))):
            w = f'{where}#{st.get("Sid", i)}'
            for bad in ('NotAction', 'NotResource', 'NotPrincipal'):
                if bad in st:
                    problems.append(f'{w}: {bad}')
            actions = _list(st.get('Action', []))
            for a in actions:
                if not isinstance(a, str) or '*' in a:
                    problems.append(f'{w}: wildcard action {a!r}')
            for r in items(_list(st.get('Resource', []))):
                if r == '*':
                    extra = [a for a in actions if a not in STAR_RESOURCE_READ_ONLY]
                    if extra:
                        problems.append(f'{w}: Resource * for {extra}')
                elif isinstance(r, str) and '*' in r or isinstance(r, dict) and \
                        'Fn::Sub' in r and '*' in str(r['Fn::Sub']):
                    if 'Condition' not in st:
                        problems.append(f'{w}: wildcard resource {r} without a Condition')
            if not st.get('Resource'):
                problems.append(f'{w}: no Resource')
    for name, role in resources(t, 'AWS::IAM::Role').items():
        p = role['Properties']
        for arn in p.get('ManagedPolicyArns', []):
            text = arn['Fn::Sub'] if isinstance(arn, dict) and 'Fn::Sub' in arn else str(arn)
            if text.rsplit('/', 1)[-1] not in MANAGED_POLICIES:
                problems.append(f'{name}: managed policy {text}')
        for st in p['AssumeRolePolicyDocument']['Statement']:
            if st.get('Principal') != {'Service': 'ec2.amazonaws.com'}:
                problems.append(f'{name}: assumable by {st.get("Principal")}')
    for name, key in resources(t, 'AWS::KMS::Key').items():
        for st in key['Properties']['KeyPolicy']['Statement']:
            w = f'{name}#{st.get("Sid")}'
            principal = st.get('Principal')
            if principal == '*' or isinstance(principal, dict) and '*' in \
                    [x for v in principal.values() for x in _list(v)]:
                problems.append(f'{w}: principal *')
            for a in _list(st.get('Action', [])):
                if not isinstance(a, str) or '*' in a or not a.startswith('kms:'):
                    problems.append(f'{w}: action {a!r}')
            if 'NotAction' in st or 'NotPrincipal' in st:
                problems.append(f'{w}: Not* element')
    return problems


def check_imdsv2(t):
    problems = []
    lts = resources(t, 'AWS::EC2::LaunchTemplate')
    if not lts:
        problems.append('no launch template')
    for name, lt in lts.items():
        md = lt['Properties']['LaunchTemplateData'].get('MetadataOptions', {})
        if md.get('HttpTokens') != 'required':
            problems.append(f'{name}: IMDSv2 not required')
        if md.get('HttpEndpoint', 'enabled') != 'enabled':
            problems.append(f'{name}: metadata endpoint {md.get("HttpEndpoint")}')
        if int(md.get('HttpPutResponseHopLimit', 1)) != 1:
            problems.append(f'{name}: hop limit above 1 (containers could reach the tokens)')
    return problems


def check_kms_rotation(t):
    problems = []
    keys = resources(t, 'AWS::KMS::Key')
    if KEY not in keys:
        problems.append(f'no {KEY}')
    for name, key in keys.items():
        if not is_true(key['Properties'].get('EnableKeyRotation')):
            problems.append(f'{name}: rotation off')
    return problems


def user_data(t):
    out = []
    for name, lt in resources(t, 'AWS::EC2::LaunchTemplate').items():
        ud = lt['Properties']['LaunchTemplateData'].get('UserData', {})
        sub = ud.get('Fn::Base64', {}).get('Fn::Sub') if isinstance(ud, dict) else None
        text = sub[0] if isinstance(sub, list) else sub
        out.append((name, text or ''))
    return out


def check_recordings_stay(t):
    problems = []
    for rtype in ('AWS::S3::Bucket', 'AWS::S3::BucketPolicy', 'AWS::DLM::LifecyclePolicy',
                  'AWS::Backup::BackupPlan', 'AWS::Backup::BackupSelection',
                  'AWS::Backup::BackupVault', 'AWS::EFS::FileSystem', 'AWS::FSx::FileSystem'):
        for name in resources(t, rtype):
            problems.append(f'{name}: {rtype} (recordings must not leave the bridge)')
    for where, doc in policy_documents(t):
        for st in items(doc.get('Statement', [])):
            for a in _list(st.get('Action', [])):
                if isinstance(a, str) and (a.startswith('s3:') and a != 's3:GetObject'
                                           or a in ('ec2:CreateSnapshot', 'ec2:CreateSnapshots',
                                                    'ec2:CopySnapshot', 'ebs:StartSnapshot')):
                    problems.append(f'{where}: {a} (a way out for recordings)')
    for name, text in user_data(t):
        if not text:
            problems.append(f'{name}: no user data')
        for m in re.finditer(r'aws\s+s3\s+(cp|mv|sync)\s+(?:--\S+\s+(?:"[^"]*"|\S+)\s+)*'
                             r'(\S+)\s+(\S+)', text):
            src, dst = m.group(2).strip('\'"'), m.group(3).strip('\'"')
            if not src.startswith('s3://') or dst.startswith('s3://'):
                problems.append(f'{name}: "{m.group(0)}" writes to S3')
        for bad in ('s3api', 'create-snapshot', 'put-object'):
            if bad in text:
                problems.append(f'{name}: user data runs {bad}')
    rec = [(w, e) for w, e in block_devices(t) if w.endswith('/dev/sdf')]
    if not rec:
        problems.append('no recording volume (/dev/sdf) on the bridges')
    for where, ebs in rec:
        if ebs.get('DeleteOnTermination') not in (False, 'false'):
            problems.append(f'{where}: recordings deleted with their instance')
    return problems


CHECKS = [check_structure, check_ingress, check_no_ssh, check_ebs_encrypted, check_database,
          check_no_plaintext_secret, check_iam, check_imdsv2, check_kms_rotation,
          check_recordings_stay]


# -- the template as shipped --------------------------------------------------------------

class Template(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = load()

    def assertClean(self, check):
        problems = check(self.t)
        self.assertEqual(problems, [], '\n'.join(problems))

    def test_loader_reads_short_tags(self):
        # The loader turned the tags into long forms (not strings, not errors).
        text = open(TEMPLATE).read()
        for tag in ('!Ref', '!Sub', '!GetAtt', '!Select', '!GetAZs', '!If', '!Equals', '!Cidr'):
            self.assertIn(tag, text)
        kinds = {fn for _, v in walk(self.t) if isinstance(v, dict) for fn in v
                 if fn.startswith('Fn::') or fn == 'Ref'}
        self.assertLessEqual({'Ref', 'Fn::Sub', 'Fn::GetAtt', 'Fn::Select', 'Fn::GetAZs',
                              'Fn::If', 'Fn::Equals', 'Fn::Base64', 'Fn::Cidr'}, kinds)
        self.assertEqual(self.t['Resources']['Database']['Properties']['KmsKeyId'],
                         {'Fn::GetAtt': ['DataKey', 'Arn']})

    def test_required_pieces(self):
        types = [r['Type'] for r in self.t['Resources'].values()]
        for rtype, n in (('AWS::EC2::VPC', 1), ('AWS::EC2::Subnet', 4), ('AWS::KMS::Key', 1),
                         ('AWS::RDS::DBInstance', 1), ('AWS::RDS::DBSubnetGroup', 1),
                         ('AWS::AutoScaling::AutoScalingGroup', 1),
                         ('AWS::EC2::LaunchTemplate', 2), ('AWS::EC2::Instance', 1)):
            self.assertEqual(types.count(rtype), n, rtype)
        # Two public and two private subnets, in two availability zones.
        private = private_subnets(self.t)
        self.assertEqual(len(private), 2)
        subnets = resources(self.t, 'AWS::EC2::Subnet')
        for group in (private, set(subnets) - private):
            self.assertEqual({str(subnets[s]['Properties']['AvailabilityZone']) for s in group},
                             {str({'Fn::Select': [0, {'Fn::GetAZs': ''}]}),
                              str({'Fn::Select': [1, {'Fn::GetAZs': ''}]})})
        # The bridges: public subnets and a public IP each (media is UDP to clients).
        asg = self.t['Resources']['BridgeGroup']['Properties']
        self.assertTrue(all(s['Ref'] not in private for s in asg['VPCZoneIdentifier']))
        nic = self.t['Resources']['BridgeLaunchTemplate']['Properties'][
            'LaunchTemplateData']['NetworkInterfaces'][0]
        self.assertTrue(is_true(nic['AssociatePublicIpAddress']))
        self.assertEqual(nic['Groups'], [{'Ref': 'BridgeSecurityGroup'}])

    def test_structure(self):
        self.assertClean(check_structure)

    def test_ingress_exactly_the_public_ports(self):
        self.assertClean(check_ingress)

    def test_no_port_22(self):
        self.assertClean(check_no_ssh)
        self.assertNotIn('KeyName', open(TEMPLATE).read())

    def test_every_volume_encrypted_with_the_key(self):
        self.assertClean(check_ebs_encrypted)
        self.assertGreaterEqual(len(block_devices(self.t)), 3)

    def test_database(self):
        self.assertClean(check_database)

    def test_no_plaintext_secret(self):
        self.assertClean(check_no_plaintext_secret)
        # The daemons' secrets come from Secrets Manager by ARN, in the user data.
        self.assertGreaterEqual(len(resources(self.t, 'AWS::SecretsManager::Secret')), 4)

    def test_iam_least_privilege(self):
        self.assertClean(check_iam)

    def test_imdsv2_required(self):
        self.assertClean(check_imdsv2)

    def test_kms_rotation(self):
        self.assertClean(check_kms_rotation)

    def test_recordings_never_leave(self):
        self.assertClean(check_recordings_stay)
        # The regular expression above sees the one S3 command there is: the package.
        copies = [m.group(0) for _, text in user_data(self.t)
                  for m in re.finditer(r'aws\s+s3\s+cp\s.*', text)]
        self.assertEqual(len(copies), 2, copies)
        self.assertTrue(all("'s3://${PackageBucket}/${PackageKey}' /tmp/" in c for c in copies))

    def test_user_data_is_valid_bash(self):
        # With every ${Name} substituted as CloudFormation would, the scripts parse.
        for name, text in user_data(self.t):
            rendered = re.sub(r'\$\{(?!!)[^}]*\}', 'placeholder', text).replace('${!', '${')
            r = subprocess.run(['bash', '-n'], input=rendered, text=True, capture_output=True)
            self.assertEqual(r.returncode, 0, f'{name}: {r.stderr}')
            self.assertTrue(rendered.startswith('#!/bin/bash\n'), name)
            self.assertIn('set -euo pipefail', rendered)


# -- each check catches what it is for ----------------------------------------------------

class Breakage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = load()

    def broken(self, mutate):
        t = copy.deepcopy(self.t)
        mutate(t)
        return t

    def assertCaught(self, check, mutate, fragment):
        problems = check(self.broken(mutate))
        self.assertTrue(any(fragment in p for p in problems),
                        f'{check.__name__} missed the breakage ({fragment!r}): {problems}')

    def props(self, t, name):
        return t['Resources'][name]['Properties']

    def test_ssh_open_to_the_world(self):
        def m(t):
            self.props(t, 'BridgeSecurityGroup')['SecurityGroupIngress'].append(
                {'IpProtocol': 'tcp', 'FromPort': 22, 'ToPort': 22, 'CidrIp': '0.0.0.0/0'})
        self.assertCaught(check_ingress, m, 'tcp 22-22 open to 0.0.0.0/0')
        self.assertCaught(check_no_ssh, m, 'port 22')

    def test_ssh_hidden_in_a_range(self):
        def m(t):
            t['Resources']['Wide'] = {'Type': 'AWS::EC2::SecurityGroupIngress', 'Properties': {
                'GroupId': {'Ref': 'XmppSecurityGroup'}, 'IpProtocol': 'tcp', 'FromPort': 1,
                'ToPort': 1000, 'SourceSecurityGroupId': {'Ref': 'BridgeSecurityGroup'}}}
        self.assertCaught(check_no_ssh, m, 'port 22')
        self.assertCaught(check_ingress, m, 'internal rule over a port range')

    def test_ipv6_and_other_cidrs(self):
        def m(t):
            self.props(t, 'XmppSecurityGroup')['SecurityGroupIngress'].append(
                {'IpProtocol': 'tcp', 'FromPort': 5347, 'ToPort': 5347, 'CidrIpv6': '::/0'})
        self.assertCaught(check_ingress, m, 'tcp 5347-5347 open to ::/0')

        def m2(t):
            self.props(t, 'DatabaseSecurityGroup')['SecurityGroupIngress'] = [
                {'IpProtocol': 'tcp', 'FromPort': 5432, 'ToPort': 5432, 'CidrIp': '10.0.0.0/8'}]
        self.assertCaught(check_ingress, m2, 'CIDR sources are for the public ports only')

    def test_public_port_missing(self):
        def m(t):
            rules = self.props(t, 'XmppSecurityGroup')['SecurityGroupIngress']
            rules[:] = [r for r in rules if r['FromPort'] != 5349]
        self.assertCaught(check_ingress, m, 'are not exactly')

    def test_metrics_opened_to_bridges(self):
        def m(t):
            self.props(t, 'BridgeHttpFromXmpp')['SourceSecurityGroupId'] = {
                'Ref': 'BridgeSecurityGroup'}
        self.assertCaught(check_ingress, m, 'internal rules')

    def test_unencrypted_volume(self):
        def m(t):
            self.props(t, 'BridgeLaunchTemplate')['LaunchTemplateData'][
                'BlockDeviceMappings'][0]['Ebs']['Encrypted'] = False
        self.assertCaught(check_ebs_encrypted, m, 'not encrypted')

    def test_recording_volume_with_the_default_key(self):
        def m(t):
            rec = self.props(t, 'BridgeLaunchTemplate')['LaunchTemplateData'][
                'BlockDeviceMappings'][1]['Fn::If'][1]
            del rec['Ebs']['KmsKeyId']
        self.assertCaught(check_ebs_encrypted, m, '/dev/sdf: not encrypted with DataKey')

    def test_action_star(self):
        def m(t):
            self.props(t, 'XmppRole')['Policies'][0]['PolicyDocument']['Statement'].append(
                {'Effect': 'Allow', 'Action': '*', 'Resource': '*'})
        self.assertCaught(check_iam, m, "wildcard action '*'")

    def test_service_star_and_star_resource(self):
        def m(t):
            self.props(t, 'BridgeRole')['Policies'][0]['PolicyDocument']['Statement'].append(
                {'Effect': 'Allow', 'Action': ['s3:*'], 'Resource': {
                    'Fn::Sub': 'arn:${AWS::Partition}:s3:::x/*'}})
        self.assertCaught(check_iam, m, "wildcard action 's3:*'")
        self.assertCaught(check_iam, m, 'without a Condition')

        def m2(t):
            self.props(t, 'BridgeRole')['Policies'][0]['PolicyDocument']['Statement'].append(
                {'Effect': 'Allow', 'Action': 'secretsmanager:GetSecretValue', 'Resource': '*'})
        self.assertCaught(check_iam, m2, "Resource * for ['secretsmanager:GetSecretValue']")

    def test_key_policy_wildcards(self):
        def m(t):
            st = self.props(t, 'DataKey')['KeyPolicy']['Statement'][0]
            st['Action'] = 'kms:*'
            st['Principal'] = {'AWS': '*'}
        self.assertCaught(check_iam, m, "action 'kms:*'")
        self.assertCaught(check_iam, m, 'principal *')

    def test_extra_managed_policy(self):
        def m(t):
            self.props(t, 'BridgeRole')['ManagedPolicyArns'].append(
                'arn:aws:iam::aws:policy/AdministratorAccess')
        self.assertCaught(check_iam, m, 'AdministratorAccess')

    def test_imdsv1(self):
        def m(t):
            self.props(t, 'XmppLaunchTemplate')['LaunchTemplateData']['MetadataOptions'][
                'HttpTokens'] = 'optional'
        self.assertCaught(check_imdsv2, m, 'IMDSv2 not required')

    def test_rotation_off(self):
        def m(t):
            self.props(t, 'DataKey')['EnableKeyRotation'] = False
        self.assertCaught(check_kms_rotation, m, 'rotation off')

    def test_public_database(self):
        def m(t):
            p = self.props(t, 'Database')
            p['PubliclyAccessible'] = True
            p['StorageEncrypted'] = False
        self.assertCaught(check_database, m, 'PubliclyAccessible')
        self.assertCaught(check_database, m, 'StorageEncrypted')

        def m2(t):
            self.props(t, 'DatabaseSubnetGroup')['SubnetIds'] = [
                {'Ref': 'PublicSubnetA'}, {'Ref': 'PrivateSubnetB'}]
        self.assertCaught(check_database, m2, 'not all private')

        def m3(t):
            self.props(t, 'PrivateSubnetB')['MapPublicIpOnLaunch'] = True
        self.assertCaught(check_database, m3, 'not all private')

    def test_inline_passwords(self):
        def m(t):
            p = self.props(t, 'Database')
            del p['ManageMasterUserPassword']
            p['MasterUserPassword'] = 'hunter2hunter2'
        self.assertCaught(check_database, m, 'master password neither managed')
        self.assertCaught(check_no_plaintext_secret, m, 'MasterUserPassword: a literal secret')

        def m2(t):
            p = self.props(t, 'TurnSecret')
            del p['GenerateSecretString']
            p['SecretString'] = 'an inline secret'
        self.assertCaught(check_no_plaintext_secret, m2, 'SecretString: a literal secret')
        self.assertCaught(check_no_plaintext_secret, m2, 'not generated by Secrets Manager')

    def test_dangling_references(self):
        def m(t):
            self.props(t, 'Database')['DBSubnetGroupName'] = {'Ref': 'NoSuchGroup'}
            t['Outputs']['Bad'] = {'Value': {'Fn::GetAtt': ['NoSuchThing', 'Arn']}}
            t['Outputs']['BadAttr'] = {'Value': {'Fn::GetAtt': ['DataKey', 'Nope']}}
            t['Outputs']['BadCond'] = {'Condition': 'Nowhere', 'Value': 'x'}
            self.props(t, 'BridgeLaunchTemplate')['LaunchTemplateData'][
                'BlockDeviceMappings'][1]['Fn::If'][0] = 'NoSuchCondition'
            t['Outputs']['BadSub'] = {'Value': {'Fn::Sub': '${Missing}'}}
        for fragment in ('Ref to unknown NoSuchGroup', 'unknown resource NoSuchThing',
                         'has no attribute Nope', 'Output BadCond: unknown condition',
                         'unknown condition NoSuchCondition', '${Missing} refers to nothing'):
            self.assertCaught(check_structure, m, fragment)

    def test_recordings_to_s3(self):
        def m(t):
            t['Resources']['Recordings'] = {'Type': 'AWS::S3::Bucket', 'Properties': {}}
            self.props(t, 'BridgeRole')['Policies'][0]['PolicyDocument']['Statement'].append(
                {'Effect': 'Allow', 'Action': 's3:PutObject', 'Resource': {
                    'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Recordings}/x'}})
            ud = self.props(t, 'BridgeLaunchTemplate')['LaunchTemplateData']['UserData']
            ud['Fn::Base64']['Fn::Sub'] += \
                'aws s3 cp --region "$REGION" "$RECDIR/x.ccrec" s3://bucket/x.ccrec\n'
        self.assertCaught(check_recordings_stay, m, 'AWS::S3::Bucket')
        self.assertCaught(check_recordings_stay, m, 's3:PutObject')
        self.assertCaught(check_recordings_stay, m, 'writes to S3')

        def m2(t):
            self.props(t, 'BridgeLaunchTemplate')['LaunchTemplateData'][
                'BlockDeviceMappings'][1]['Fn::If'][1]['Ebs']['DeleteOnTermination'] = True
        self.assertCaught(check_recordings_stay, m2, 'deleted with their instance')

    def test_template_passes_every_check_unchanged(self):
        # The baseline for every case above: the copy is broken, never the original.
        for check in CHECKS:
            self.assertEqual(check(self.broken(lambda t: None)), [], check.__name__)


if __name__ == '__main__':
    tap.main(Template, Breakage)
