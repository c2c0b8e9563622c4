/* The Colibri2 subset Conclave speaks between the focus and the bridge (namespace
 * jitsi:colibri2; schemas/colibri2.md is the contract): parsing and writing a
 * conference-modify request, parsing the conference-modified answer, and reading and
 * writing the sources (media-source, ssrc, ssrc-group) that travel in both directions.
 * The ICE-UDP transport inside it is ice-udp.c's, shared with Jingle.
 *
 * Parsing is strict and bounded: unknown shapes, out-of-range numbers, over-long ids and
 * too many children are errors (CC_ERROR_INVALID) whose message says which element. */
#pragma once

#include "ice-udp.h"

#include <glib.h>
#include <strophe.h>

G_BEGIN_DECLS

#define CC_NS_COLIBRI2 "jitsi:colibri2"
/* Jingle's namespaces that Colibri2 <media> reuses (jingle.h includes this file). */
#define CC_NS_JINGLE_RTP  "urn:xmpp:jingle:apps:rtp:1"
#define CC_NS_RTP_HDREXT  "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
#define CC_NS_SSMA        "urn:xmpp:jingle:apps:rtp:ssma:0"
#define CC_NS_HEALTHCHECK "http://jitsi.org/protocol/healthcheck"
/* Conclave's extension: the bridge records a conference (schemas/colibri2.md, Recording). */
#define CC_NS_RECORDING "urn:conclave:recording:0"

#define CC_COLIBRI2_MAX_ENDPOINTS 64
#define CC_COLIBRI2_MAX_SOURCES   16 /* media-source per endpoint */
#define CC_COLIBRI2_MAX_SSRCS     8  /* per media-source */
#define CC_COLIBRI2_MAX_ID_LEN    64
/* <endpoint channel-id>: bytes of UTF-8 (a MUC nickname). */
#define CC_COLIBRI2_MAX_CHANNEL_ID_LEN 256
#define CC_URI_AUDIO_LEVEL             "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

typedef struct {
    char *semantics; /* FID or SIM */
    GArray *ssrcs;   /* guint32 */
} CcColibri2SsrcGroup;

typedef struct {
    char *type; /* audio or video */
    char *id;   /* the source name */
    GArray *ssrcs;
    GPtrArray *groups; /* CcColibri2SsrcGroup* */
} CcColibri2Source;

/* The payload types an endpoint's client accepted (<media type><payload-type id/>...): a
 * bit per payload type 0-127. */
typedef struct {
    guint64 bits[2];
} CcColibri2PayloadTypes;

static inline gboolean
cc_colibri2_payload_type_has(const CcColibri2PayloadTypes *pts, guint8 pt)
{
    return (pts->bits[(pt >> 6) & 1] >> (pt & 63)) & 1;
}

static inline void
cc_colibri2_payload_type_add(CcColibri2PayloadTypes *pts, guint8 pt)
{
    pts->bits[(pt >> 6) & 1] |= G_GUINT64_CONSTANT(1) << (pt & 63);
}

typedef struct {
    char *id;
    gboolean create;
    gboolean expire;
    CcIceUdpTransport *transport; /* NULL when absent */
    /* <media type='audio|video'> lists: what the client accepts. Written and read only when
     * `has_payload_types`; `audio` and `video` hold each type's list. */
    gboolean has_payload_types;
    CcColibri2PayloadTypes audio, video;
    /* <media type='audio'><rtp-hdrext id='N' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/>:
     * the RFC 6464 audio level header extension's id in the endpoint's audio (1-255), 0 for
     * none. The bridge reads it for dominant speaker detection. */
    guint8 audio_level_ext;
    /* <endpoint channel-id>: the id by which other clients know this endpoint on the bridge
     * channel (schemas/bridge-channel.md), e.g. the occupant's MUC nick; NULL: the endpoint
     * id. UTF-8, at most CC_COLIBRI2_MAX_CHANNEL_ID_LEN bytes, no control characters. It is
     * a nickname: never log it. */
    char *channel_id;
    /* <endpoint occupant-id>: the participant's XEP-0421 occupant id (opaque, a Colibri2
     * id); a recording names the owner of each stream by it. NULL: not given. */
    char *occupant_id;
    GPtrArray *sources; /* CcColibri2Source*; NULL when <sources> is absent */
} CcColibri2Endpoint;

typedef enum {
    CC_COLIBRI2_RECORDING_NONE, /* no <recording> element */
    CC_COLIBRI2_RECORDING_START,
    CC_COLIBRI2_RECORDING_STOP,
} CcColibri2RecordingAction;

typedef struct {
    char *meeting_id;
    char *name; /* optional; never logged */
    gboolean create;
    gboolean expire;
    GPtrArray *endpoints; /* CcColibri2Endpoint* */
    /* <recording xmlns='urn:conclave:recording:0' action='start|stop' id='...'/>: start or
     * stop the recording `recording_id` (a Colibri2 id) of the conference. */
    CcColibri2RecordingAction recording;
    char *recording_id;
} CcColibri2Modify;

/* <recording-status xmlns='urn:conclave:recording:0'> (message, bridge -> focus): a
 * recording ended on its own, or goes on damaged. */
typedef struct {
    char *meeting_id;
    char *id;
    char *state;  /* "damaged" (goes on, something was lost) or "failed" (stopped) */
    char *reason; /* a token: queue_overflow, disk_full, write_error, ... */
} CcColibri2RecordingStatus;

CcColibri2RecordingStatus *cc_colibri2_recording_status_parse(xmpp_stanza_t *e, GError **error);
void cc_colibri2_recording_status_write(xmpp_stanza_t *parent,
                                        const CcColibri2RecordingStatus *status);
void cc_colibri2_recording_status_free(CcColibri2RecordingStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcColibri2RecordingStatus, cc_colibri2_recording_status_free)

/* A Colibri2 id (meeting, endpoint, source): 1..64 characters of [A-Za-z0-9._-]. */
gboolean cc_colibri2_valid_id(const char *id);

CcColibri2Modify *cc_colibri2_modify_parse(xmpp_stanza_t *conference_modify, GError **error);
void cc_colibri2_modify_free(CcColibri2Modify *modify);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcColibri2Modify, cc_colibri2_modify_free)

/* The bridge's answer: its meeting-id and one endpoint per endpoint of the request, with
 * the transport of those that were created (the focus reads it). */
CcColibri2Modify *cc_colibri2_modified_parse(xmpp_stanza_t *conference_modified, GError **error);

/* Building a request (the focus): fill the structure, then write it into an <iq>. The
 * endpoint's transport and sources (set them directly) are owned by the request. */
CcColibri2Modify *cc_colibri2_modify_new(const char *meeting_id);
CcColibri2Endpoint *cc_colibri2_modify_add_endpoint(CcColibri2Modify *modify, const char *id);
void cc_colibri2_modify_write(xmpp_stanza_t *parent, const CcColibri2Modify *modify);

/* Appends <transport xmlns=jitsi:colibri2><transport xmlns=ice-udp .../></transport>. */
void cc_colibri2_transport_write(xmpp_stanza_t *parent, const CcIceUdpTransport *transport);

/* Appends <sources><media-source>... for `sources` (CcColibri2Source*). */
void cc_colibri2_sources_write(xmpp_stanza_t *parent, GPtrArray *sources);
CcColibri2Source *cc_colibri2_source_new(const char *type, const char *id);
/* Adds an ssrc-group of a copy of `ssrcs` (guint32). */
void cc_colibri2_source_add_group(CcColibri2Source *source, const char *semantics, GArray *ssrcs);
CcColibri2Source *cc_colibri2_source_copy(const CcColibri2Source *source);
void cc_colibri2_source_free(CcColibri2Source *source);
void cc_colibri2_ssrc_group_free(CcColibri2SsrcGroup *group);

/* Appends <error xmlns='jitsi:colibri2' reason='...'/> to a stanza error element. */
void cc_colibri2_error_reason(xmpp_stanza_t *error, const char *reason);

G_END_DECLS
