/* Jingle for RTP sessions (XEPs 0166, 0167, 0176, 0320, 0293, 0294, 0338, 0339), in the
 * shape Jitsi clients speak: one <content> per media (audio, video), each with an RTP
 * <description> (payload types with parameters and rtcp-fb, header extensions, sources and
 * ssrc-groups) and an ICE-UDP <transport> (ice-udp.c's, the one Colibri2 carries), plus a
 * BUNDLE group. Used by the focus (offers, answers, source-add/-remove) and by the test
 * peer (the client side).
 *
 * Parsing is strict and bounded like colibri2.c: an unknown action, a missing sid, numbers
 * out of range, too many children or over-long strings are CC_ERROR_INVALID errors whose
 * message names the element. Unknown child elements are ignored (XEP-0166 allows
 * extensions). */
#pragma once

#include "colibri2.h"

G_BEGIN_DECLS

#define CC_NS_JINGLE        "urn:xmpp:jingle:1"
#define CC_NS_JINGLE_ERRORS "urn:xmpp:jingle:errors:1"
#define CC_NS_JINGLE_AUDIO  "urn:xmpp:jingle:apps:rtp:audio"
#define CC_NS_JINGLE_VIDEO  "urn:xmpp:jingle:apps:rtp:video"
#define CC_NS_RTCP_FB       "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
#define CC_NS_JINGLE_GROUP  "urn:xmpp:jingle:apps:grouping:0"
#define CC_NS_JITSI_MEET    "http://jitsi.org/jitmeet"

#define CC_JINGLE_MAX_CONTENTS      4
#define CC_JINGLE_MAX_PAYLOAD_TYPES 32 /* per description */
#define CC_JINGLE_MAX_PARAMETERS    16 /* per payload type */
#define CC_JINGLE_MAX_FEEDBACK      16 /* rtcp-fb per payload type */
#define CC_JINGLE_MAX_HDREXTS       16
#define CC_JINGLE_MAX_SOURCES       64 /* per description */
#define CC_JINGLE_MAX_GROUPS        32 /* per description */
#define CC_JINGLE_MAX_SOURCE_PARAMS 8  /* <parameter>s per source (msid, cname...) */
#define CC_JINGLE_MAX_STRING        256

typedef enum {
    CC_JINGLE_SESSION_INITIATE,
    CC_JINGLE_SESSION_ACCEPT,
    CC_JINGLE_SESSION_INFO,
    CC_JINGLE_SESSION_TERMINATE,
    CC_JINGLE_TRANSPORT_INFO,
    CC_JINGLE_TRANSPORT_REPLACE,
    CC_JINGLE_TRANSPORT_ACCEPT,
    CC_JINGLE_TRANSPORT_REJECT,
    CC_JINGLE_SOURCE_ADD,
    CC_JINGLE_SOURCE_REMOVE,
    CC_JINGLE_CONTENT_ADD,
    CC_JINGLE_CONTENT_REMOVE,
    CC_JINGLE_CONTENT_MODIFY,
    CC_JINGLE_CONTENT_ACCEPT,
    CC_JINGLE_CONTENT_REJECT,
    CC_JINGLE_DESCRIPTION_INFO,
} CcJingleAction;

typedef struct {
    char *name;
    char *value;
} CcJingleParameter;

typedef struct {
    char *type;    /* "nack", "ccm", "transport-cc", "goog-remb" */
    char *subtype; /* "pli", "fir" or NULL */
} CcJingleFeedback;

typedef struct {
    guint8 id; /* 0..127 */
    char *name;
    guint clockrate;       /* 0: absent */
    guint channels;        /* 0: absent (means 1) */
    GPtrArray *parameters; /* CcJingleParameter* */
    GPtrArray *feedback;   /* CcJingleFeedback* */
} CcJinglePayloadType;

typedef struct {
    guint id; /* 1..255 */
    char *uri;
} CcJingleHdrExt;

/* <source xmlns=ssma ssrc name>[<parameter name value/>...][<ssrc-info owner/>] */
typedef struct {
    guint32 ssrc;
    char *name;            /* source name (Jitsi: ENDPOINT-a0, ENDPOINT-v1), or NULL */
    GPtrArray *parameters; /* CcJingleParameter* in order given (msid, cname...); never NULL */
    char *owner;           /* <ssrc-info xmlns=jitmeet owner>: the occupant JID, or NULL */
} CcJingleSource;

typedef struct {
    char *name;    /* content name, e.g. "audio" */
    char *creator; /* "initiator" or "responder"; NULL when absent */
    char *senders; /* "both", "initiator", "responder", "none"; NULL when absent */
    /* <description xmlns=rtp>: present when `media` is not NULL. The arrays are never NULL
     * (empty when the description or its children are absent). */
    char *media;                  /* "audio" or "video" */
    GPtrArray *payload_types;     /* CcJinglePayloadType* */
    GPtrArray *hdrexts;           /* CcJingleHdrExt* */
    gboolean rtcp_mux;            /* <rtcp-mux/> in the description */
    GPtrArray *sources;           /* CcJingleSource* */
    GPtrArray *groups;            /* CcColibri2SsrcGroup* (FID, SIM), ssrcs listed in sources */
    CcIceUdpTransport *transport; /* <transport xmlns=ice-udp>, NULL when absent */
} CcJingleContent;

typedef struct {
    CcJingleAction action;
    char *sid;
    char *initiator; /* NULL when absent */
    char *responder;
    GPtrArray *contents; /* CcJingleContent* */
    gboolean bundle;     /* <group xmlns=grouping semantics='BUNDLE'> present */
    char *reason;        /* <reason>'s condition element name (e.g. "success"), or NULL */
    char *reason_text;
} CcJingle;

const char *cc_jingle_action_name(CcJingleAction action);
gboolean cc_jingle_action_parse(const char *name, CcJingleAction *action);

/* Parses a <jingle xmlns='urn:xmpp:jingle:1'> element. */
CcJingle *cc_jingle_parse(xmpp_stanza_t *jingle, GError **error);
void cc_jingle_free(CcJingle *jingle);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcJingle, cc_jingle_free)

/* Building: new, add contents and fill them, then write. Strings are copied. */
CcJingle *cc_jingle_new(CcJingleAction action, const char *sid);
CcJingleContent *cc_jingle_add_content(CcJingle *jingle, const char *name, const char *media);
CcJinglePayloadType *cc_jingle_content_add_payload_type(CcJingleContent *content, guint8 id,
                                                        const char *name, guint clockrate,
                                                        guint channels);
void cc_jingle_payload_type_add_parameter(CcJinglePayloadType *pt, const char *name,
                                          const char *value);
void cc_jingle_payload_type_add_feedback(CcJinglePayloadType *pt, const char *type,
                                         const char *subtype);
void cc_jingle_content_add_hdrext(CcJingleContent *content, guint id, const char *uri);
CcJingleSource *cc_jingle_content_add_source(CcJingleContent *content, guint32 ssrc,
                                             const char *name, const char *owner);
void cc_jingle_parameter_free(CcJingleParameter *parameter);
/* Adds (or replaces) a source's parameter; `value` may be NULL. */
void cc_jingle_source_set_parameter(CcJingleSource *source, const char *name, const char *value);
/* The value of a source's parameter `name`, or NULL. */
const char *cc_jingle_source_parameter(const CcJingleSource *source, const char *name);
/* Adds an ssrc-group; `ssrcs` are copied. */
void cc_jingle_content_add_group(CcJingleContent *content, const char *semantics,
                                 const guint32 *ssrcs, guint n_ssrcs);
/* The content named `name`, or NULL. */
CcJingleContent *cc_jingle_find_content(const CcJingle *jingle, const char *name);

/* Appends <jingle xmlns action sid [initiator] [responder]> with the contents, the BUNDLE
 * group of every content name when `bundle`, and <reason> when set, to `iq`. A content
 * writes <description> only when `media` is set and <transport> only when `transport` is
 * set (source-add / -remove carry descriptions alone). */
void cc_jingle_write(xmpp_stanza_t *iq, const CcJingle *jingle);

/* Appends a Jingle-specific error condition (e.g. "unknown-session", "out-of-order") in
 * urn:xmpp:jingle:errors:1 to a stanza's <error> element. */
void cc_jingle_error_condition(xmpp_stanza_t *error, const char *condition);

G_END_DECLS
