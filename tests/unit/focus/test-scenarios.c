/* The data-driven focus scenarios: each file in the scenarios folder (one argument) says
 * which stanzas come in and which must go out, and runs on a fresh focus in the scripted
 * world of focus-world.h. The format is in the folder's README.md. One TAP case per file;
 * the last line gives the count and the run time. */
#include "focus-world.h"

#include <stdio.h>

typedef struct {
    FocusFixture fixture;
    FocusWorld world;
    GHashTable *vars; /* name -> value: {name} captured from output, used in input */
    gboolean show_bridges;
    GString *why; /* what failed */
} Scenario;

/* ---- reading the file ---- */

static char *
scenario_attribute(xmpp_stanza_t *root, const char *name, const char *fallback)
{
    const char *v = xmpp_stanza_get_attribute(root, name);
    return g_strdup(v != NULL ? v : fallback);
}

static guint
scenario_uint(xmpp_stanza_t *root, const char *name)
{
    const char *v = xmpp_stanza_get_attribute(root, name);
    return v != NULL ? (guint)g_ascii_strtoull(v, NULL, 10) : 0;
}

static char *
stanza_text(xmpp_stanza_t *s)
{
    char *buf = NULL;
    size_t len = 0;
    if (xmpp_stanza_to_text(s, &buf, &len) != XMPP_EOK)
        return g_strdup("(unprintable)");
    char *copy = g_strndup(buf, len);
    xmpp_free(xmpp_stanza_get_context(s), buf);
    return copy;
}

/* ---- variables: {name} ---- */

/* Replaces every {name} in the attributes of `s` and its descendants. FALSE if a name has
 * no value yet. */
static gboolean
scenario_substitute(Scenario *sc, xmpp_stanza_t *s)
{
    if (!xmpp_stanza_is_tag(s))
        return TRUE;
    int n = xmpp_stanza_get_attribute_count(s);
    const char **attrs = g_new0(const char *, (gsize)n * 2);
    xmpp_stanza_get_attributes(s, attrs, n * 2);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n; i++) {
        const char *value = attrs[2 * i + 1];
        if (strchr(value, '{') == NULL)
            continue;
        GString *out = g_string_new(NULL);
        for (const char *p = value; *p != '\0'; p++) {
            const char *end = *p == '{' ? strchr(p, '}') : NULL;
            if (end == NULL) {
                g_string_append_c(out, *p);
                continue;
            }
            g_autofree char *name = g_strndup(p + 1, (gsize)(end - p - 1));
            const char *v = g_hash_table_lookup(sc->vars, name);
            if (v == NULL) {
                g_string_append_printf(sc->why, "{%s} is used before it is captured", name);
                ok = FALSE;
                break;
            }
            g_string_append(out, v);
            p = end;
        }
        g_autofree char *key = g_strdup(attrs[2 * i]);
        if (ok)
            xmpp_stanza_set_attribute(s, key, out->str);
        g_string_free(out, TRUE);
    }
    g_free(attrs);
    for (xmpp_stanza_t *c = xmpp_stanza_get_children(s); ok && c != NULL;
         c = xmpp_stanza_get_next(c))
        ok = scenario_substitute(sc, c);
    return ok;
}

/* ---- matching ---- */

typedef struct {
    char *name, *value;
} Capture;

static void
capture_free(gpointer data)
{
    Capture *c = data;
    g_free(c->name);
    g_free(c->value);
    g_free(c);
}

/* The captured value of `name` so far: from this match, else from earlier steps. */
static const char *
scenario_var(Scenario *sc, GPtrArray *captures, const char *name)
{
    for (guint i = 0; i < captures->len; i++) {
        Capture *c = g_ptr_array_index(captures, i);
        if (strcmp(c->name, name) == 0)
            return c->value;
    }
    return g_hash_table_lookup(sc->vars, name);
}

/* A wanted value: {name} captures (or, once captured, must equal); anything else is a
 * pattern where * and ? match any characters. */
static gboolean
value_matches(Scenario *sc, GPtrArray *captures, const char *want, const char *got)
{
    gsize len = strlen(want);
    if (len > 2 && want[0] == '{' && want[len - 1] == '}' && strchr(want + 1, '{') == NULL) {
        g_autofree char *name = g_strndup(want + 1, len - 2);
        const char *known = scenario_var(sc, captures, name);
        if (known != NULL)
            return strcmp(known, got) == 0;
        Capture *c = g_new0(Capture, 1);
        c->name = g_steal_pointer(&name);
        c->value = g_strdup(got);
        g_ptr_array_add(captures, c);
        return TRUE;
    }
    return g_pattern_match_simple(want, got);
}

static gboolean
is_stream_ns(const char *ns)
{
    return ns == NULL || strcmp(ns, "jabber:component:accept") == 0 ||
           strcmp(ns, "jabber:client") == 0;
}

/* Namespaces are inherited: an element without its own has its parent's. */
typedef struct {
    const char *want, *got;
} ParentNs;

static gboolean element_matches(Scenario *sc, GPtrArray *captures, xmpp_stanza_t *want,
                                xmpp_stanza_t *got, ParentNs parent);

/* The wanted children match, in order, some of the children `got` has. */
static gboolean
children_match(Scenario *sc, GPtrArray *captures, xmpp_stanza_t *want, xmpp_stanza_t *got,
               ParentNs ns)
{
    xmpp_stanza_t *g = xmpp_stanza_get_children(got);
    for (xmpp_stanza_t *w = xmpp_stanza_get_children(want); w != NULL;
         w = xmpp_stanza_get_next(w)) {
        if (!xmpp_stanza_is_tag(w))
            continue;
        guint mark = captures->len;
        for (; g != NULL; g = xmpp_stanza_get_next(g)) {
            if (xmpp_stanza_is_tag(g) && element_matches(sc, captures, w, g, ns))
                break;
            g_ptr_array_set_size(captures, mark);
        }
        if (g == NULL)
            return FALSE;
        g = xmpp_stanza_get_next(g);
    }
    return TRUE;
}

/* `got` has the name, namespace and listed attributes of `want`, its text (when `want` has
 * any) and, in order, children matching those of `want`. Unlisted attributes and children
 * are free. */
static gboolean
element_matches(Scenario *sc, GPtrArray *captures, xmpp_stanza_t *want, xmpp_stanza_t *got,
                ParentNs parent)
{
    if (g_strcmp0(xmpp_stanza_get_name(want), xmpp_stanza_get_name(got)) != 0)
        return FALSE;
    ParentNs ns = {xmpp_stanza_get_ns(want), xmpp_stanza_get_ns(got)};
    ns.want = ns.want != NULL ? ns.want : parent.want;
    ns.got = ns.got != NULL ? ns.got : parent.got;
    if (!(is_stream_ns(ns.want) && is_stream_ns(ns.got)) && g_strcmp0(ns.want, ns.got) != 0)
        return FALSE;
    int n = xmpp_stanza_get_attribute_count(want);
    const char **attrs = g_new0(const char *, (gsize)n * 2 + 2);
    xmpp_stanza_get_attributes(want, attrs, n * 2);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n; i++) {
        if (strcmp(attrs[2 * i], "xmlns") == 0)
            continue;
        const char *value = xmpp_stanza_get_attribute(got, attrs[2 * i]);
        ok = value != NULL && value_matches(sc, captures, attrs[2 * i + 1], value);
    }
    g_free(attrs);
    g_autofree char *want_text = xmpp_stanza_get_text(want);
    if (ok && want_text != NULL && g_strstrip(want_text)[0] != '\0') {
        g_autofree char *got_text = xmpp_stanza_get_text(got);
        ok = got_text != NULL && value_matches(sc, captures, want_text, got_text);
    }
    return ok && children_match(sc, captures, want, got, ns);
}

/* ---- running ---- */

static void
scenario_init(Scenario *sc, xmpp_stanza_t *root)
{
    g_autofree char *guests = scenario_attribute(root, "guests", "");
    g_auto(GStrv) guest_list = g_strsplit(guests, " ", -1);
    FocusFixtureOptions options = {
        .guest_domains = guests[0] != '\0' ? (const char *const *)guest_list : NULL,
        .stanzas_per_second = scenario_uint(root, "rate"),
        .max_occupants = scenario_uint(root, "max-occupants"),
        .max_rooms = scenario_uint(root, "max-rooms"),
    };
    if (options.stanzas_per_second == 0)
        options.stanzas_per_second = 100000;
    focus_fixture_init(&sc->fixture, &options);
    g_autofree char *media = scenario_attribute(root, "media", "no");
    focus_world_init(&sc->world, &sc->fixture, strcmp(media, "yes") == 0,
                     scenario_uint(root, "max-ssrcs"), TRUE);
    g_autofree char *bridges = scenario_attribute(root, "bridges", "hide");
    sc->show_bridges = strcmp(bridges, "show") == 0;
    sc->vars = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
scenario_clear(Scenario *sc)
{
    g_hash_table_unref(sc->vars);
    focus_world_clear(&sc->world);
    focus_fixture_clear(&sc->fixture);
}

/* What the focus sent since `start` that the scenario looks at. */
static GPtrArray *
scenario_visible(Scenario *sc, guint start)
{
    GPtrArray *seen = g_ptr_array_new();
    for (guint i = start; i < sc->world.sent->len; i++) {
        xmpp_stanza_t *s = g_ptr_array_index(sc->world.sent, i);
        if (sc->show_bridges || !focus_world_is_bridge(xmpp_stanza_get_to(s)))
            g_ptr_array_add(seen, s);
    }
    return seen;
}

static void
explain_mismatch(Scenario *sc, guint step, xmpp_stanza_t *want, GPtrArray *seen)
{
    g_autofree char *text = want ? stanza_text(want) : g_strdup("(nothing more)");
    g_string_append_printf(sc->why, "step %u: wanted %s\n# the focus sent %u stanza(s):", step,
                           text, seen->len);
    for (guint i = 0; i < seen->len; i++) {
        g_autofree char *got = stanza_text(g_ptr_array_index(seen, i));
        g_string_append_printf(sc->why, "\n#   %s", got);
    }
}

/* The stanzas sent match those of `out`, one for one, in order. */
static gboolean
scenario_expect(Scenario *sc, guint step, xmpp_stanza_t *out, GPtrArray *seen)
{
    guint i = 0;
    for (xmpp_stanza_t *w = xmpp_stanza_get_children(out); w != NULL; w = xmpp_stanza_get_next(w)) {
        if (!xmpp_stanza_is_tag(w))
            continue;
        g_autoptr(GPtrArray) captures = g_ptr_array_new_with_free_func(capture_free);
        if (i >= seen->len ||
            !element_matches(sc, captures, w, g_ptr_array_index(seen, i), (ParentNs){NULL, NULL})) {
            explain_mismatch(sc, step, w, seen);
            return FALSE;
        }
        for (guint k = 0; k < captures->len; k++) {
            Capture *c = g_ptr_array_index(captures, k);
            g_hash_table_replace(sc->vars, g_strdup(c->name), g_strdup(c->value));
        }
        i++;
    }
    if (i < seen->len) {
        explain_mismatch(sc, step, NULL, seen);
        return FALSE;
    }
    return TRUE;
}

/* Feeds one <in>; FALSE (with sc->why) if a variable is missing or an invariant broke. */
static gboolean
scenario_feed(Scenario *sc, guint step, xmpp_stanza_t *in)
{
    for (xmpp_stanza_t *s = xmpp_stanza_get_children(in); s != NULL; s = xmpp_stanza_get_next(s)) {
        if (!xmpp_stanza_is_tag(s))
            continue;
        if (!scenario_substitute(sc, s))
            return FALSE;
        focus_world_feed(&sc->world, s);
        const char *broken = focus_world_check(&sc->world);
        if (broken != NULL) {
            g_string_append_printf(sc->why, "step %u: %s", step, broken);
            return FALSE;
        }
    }
    return TRUE;
}

/* Alternating <in> and <out>: each <out> lists everything sent because of the <in> before. */
static gboolean
scenario_run(Scenario *sc, xmpp_stanza_t *root)
{
    guint step = 0, start = 0;
    gboolean fed = FALSE;
    for (xmpp_stanza_t *e = xmpp_stanza_get_children(root); e != NULL;
         e = xmpp_stanza_get_next(e)) {
        if (!xmpp_stanza_is_tag(e))
            continue;
        const char *name = xmpp_stanza_get_name(e);
        if (strcmp(name, "in") == 0 && !fed) {
            step++;
            start = sc->world.sent->len;
            if (!scenario_feed(sc, step, e))
                return FALSE;
            fed = TRUE;
        } else if (strcmp(name, "out") == 0 && fed) {
            g_autoptr(GPtrArray) seen = scenario_visible(sc, start);
            if (!scenario_expect(sc, step, e, seen))
                return FALSE;
            fed = FALSE;
        } else {
            g_string_append_printf(sc->why, "<%s> out of place: <in> and <out> alternate", name);
            return FALSE;
        }
    }
    if (fed || step == 0)
        g_string_append(sc->why, step == 0 ? "no step" : "the last <in> has no <out>");
    return !fed && step > 0;
}

static gboolean
run_file(const char *path, GString *why, char **title)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &text, NULL, &error)) {
        g_string_append(why, error->message);
        return FALSE;
    }
    /* Read once for the options, then again in the focus's own context. */
    xmpp_ctx_t *probe_ctx = xmpp_ctx_new(NULL, NULL);
    xmpp_stanza_t *probe = xmpp_stanza_new_from_string(probe_ctx, text);
    if (probe == NULL || g_strcmp0(xmpp_stanza_get_name(probe), "scenario") != 0) {
        g_string_append(why, "not a <scenario> document");
        if (probe != NULL)
            xmpp_stanza_release(probe);
        xmpp_ctx_free(probe_ctx);
        return FALSE;
    }
    Scenario sc = {.why = why};
    scenario_init(&sc, probe);
    *title = scenario_attribute(probe, "title", "");
    xmpp_stanza_release(probe);
    xmpp_ctx_free(probe_ctx);
    xmpp_stanza_t *root = xmpp_stanza_new_from_string(sc.world.ctx, text);
    gboolean ok = scenario_run(&sc, root);
    xmpp_stanza_release(root);
    scenario_clear(&sc);
    return ok;
}

static gint
compare_paths(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static GPtrArray *
scenario_files(const char *dir_path)
{
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    GDir *dir = g_dir_open(dir_path, 0, NULL);
    const char *name;
    while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
        if (g_str_has_suffix(name, ".xml"))
            g_ptr_array_add(files, g_build_filename(dir_path, name, NULL));
    if (dir != NULL)
        g_dir_close(dir);
    g_ptr_array_sort(files, compare_paths);
    return files;
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s SCENARIO-DIR\n", argv[0]);
        return 2;
    }
    g_autoptr(GPtrArray) files = scenario_files(argv[1]);
    if (files->len == 0) {
        printf("1..1\nnot ok 1 - no scenario in %s\n", argv[1]);
        return 1;
    }
    printf("1..%u\n", files->len);
    int failed = 0;
    gint64 began = g_get_monotonic_time();
    for (guint i = 0; i < files->len; i++) {
        const char *path = g_ptr_array_index(files, i);
        g_autoptr(GString) why = g_string_new(NULL);
        g_autofree char *title = NULL;
        gboolean ok = run_file(path, why, &title);
        g_autofree char *base = g_path_get_basename(path);
        printf("%s %u - %s: %s\n", ok ? "ok" : "not ok", i + 1, base, title ? title : "");
        if (!ok) {
            printf("# %s\n", why->str);
            failed++;
        }
    }
    printf("# %u scenarios in %.3f s\n", files->len,
           (double)(g_get_monotonic_time() - began) / G_USEC_PER_SEC);
    return failed == 0 ? 0 : 1;
}
