/* The fair, bounded send queue (see xmpp-sendq.h). Knows bytes, flows and classes; nothing
 * of XML, sockets or what a stanza means. */
#include "xmpp-sendq.h"

#define N_CLASSES 2
/* Control stanzas (IQs) go first, but after this many in a row one other stanza goes: a
 * flood of IQs cannot hold every presence and message back. */
#define IQS_IN_A_ROW 8

typedef struct _Flow Flow;

typedef struct {
    char *text;
    gsize len;
    Flow *flow;
    CcSendClass cls;
} Item;

/* One FIFO per flow: the order of a sender's stanzas never changes. */
struct _Flow {
    char *key;
    GQueue items;
    gboolean in_ring; /* in the ring of its first item's class */
    guint length;     /* its items, the one under way included */
};

struct _CcSendQueue {
    gsize high, low;
    GHashTable *flows;      /* key -> Flow* (owned) */
    GQueue ring[N_CLASSES]; /* Flow* whose next item has that class, next to serve first */
    Item *current;          /* being written; stays first until whole */
    gsize offset;           /* bytes of `current` already written */
    gsize bytes, peak;
    guint length;
    gboolean throttled;
    guint first_class_run; /* stanzas of class 0 served in a row */
};

static void
flow_free(gpointer data)
{
    Flow *flow = data;
    g_free(flow->key);
    g_free(flow);
}

static void
item_free(Item *item)
{
    g_free(item->text);
    g_free(item);
}

CcSendQueue *
cc_send_queue_new(gsize high_bytes, gsize low_bytes)
{
    CcSendQueue *queue = g_new0(CcSendQueue, 1);
    queue->high = high_bytes;
    queue->low = MIN(low_bytes, high_bytes);
    queue->flows = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, flow_free);
    for (guint c = 0; c < N_CLASSES; c++)
        g_queue_init(&queue->ring[c]);
    return queue;
}

void
cc_send_queue_free(CcSendQueue *queue)
{
    if (queue == NULL)
        return;
    cc_send_queue_clear(queue);
    g_hash_table_unref(queue->flows);
    g_free(queue);
}

static void
update_throttle(CcSendQueue *queue)
{
    if (!queue->throttled && queue->bytes > queue->high)
        queue->throttled = TRUE;
    else if (queue->throttled && queue->bytes <= queue->low)
        queue->throttled = FALSE;
}

void
cc_send_queue_push(CcSendQueue *queue, CcSendClass cls, const char *flow_key, char *text, gsize len)
{
    g_return_if_fail((guint)cls < N_CLASSES);
    Flow *flow = g_hash_table_lookup(queue->flows, flow_key);
    if (flow == NULL) {
        flow = g_new0(Flow, 1);
        flow->key = g_strdup(flow_key);
        g_hash_table_insert(queue->flows, flow->key, flow);
    }
    Item *item = g_new(Item, 1);
    item->text = text;
    item->len = len;
    item->flow = flow;
    item->cls = cls;
    g_queue_push_tail(&flow->items, item);
    if (!flow->in_ring) {
        flow->in_ring = TRUE;
        g_queue_push_tail(&queue->ring[cls], flow);
    }
    flow->length++;
    queue->length++;
    queue->bytes += len;
    queue->peak = MAX(queue->peak, queue->bytes);
    update_throttle(queue);
}

/* The next stanza in turn: flows whose next stanza is control first, then the others, each
 * flow one stanza per turn. */
static Item *
take_next(CcSendQueue *queue)
{
    guint start = queue->first_class_run >= IQS_IN_A_ROW && !g_queue_is_empty(&queue->ring[1]);
    for (guint i = 0; i < N_CLASSES; i++) {
        guint c = (start + i) % N_CLASSES;
        Flow *flow = g_queue_pop_head(&queue->ring[c]);
        if (flow == NULL)
            continue;
        queue->first_class_run = c == 0 ? queue->first_class_run + 1 : 0;
        Item *item = g_queue_pop_head(&flow->items);
        Item *next = g_queue_peek_head(&flow->items);
        if (next == NULL)
            flow->in_ring = FALSE;
        else /* its next turn comes after the others' */
            g_queue_push_tail(&queue->ring[next->cls], flow);
        return item;
    }
    return NULL;
}

const char *
cc_send_queue_peek(CcSendQueue *queue, gsize *len)
{
    if (queue->current == NULL) {
        queue->current = take_next(queue);
        queue->offset = 0;
    }
    if (queue->current == NULL) {
        *len = 0;
        return NULL;
    }
    *len = queue->current->len - queue->offset;
    return queue->current->text + queue->offset;
}

static void
finish_item(CcSendQueue *queue, Item *item)
{
    Flow *flow = item->flow;
    flow->length--;
    queue->length--;
    if (flow->length == 0)
        g_hash_table_remove(queue->flows, flow->key);
    item_free(item);
}

void
cc_send_queue_consumed(CcSendQueue *queue, gsize written)
{
    g_return_if_fail(queue->current != NULL);
    g_return_if_fail(written <= queue->current->len - queue->offset);
    queue->offset += written;
    queue->bytes -= written;
    if (queue->offset == queue->current->len) {
        finish_item(queue, g_steal_pointer(&queue->current));
        queue->offset = 0;
    }
    update_throttle(queue);
}

guint
cc_send_queue_clear(CcSendQueue *queue)
{
    guint dropped = queue->length;
    if (queue->current != NULL)
        item_free(g_steal_pointer(&queue->current));
    for (guint c = 0; c < N_CLASSES; c++) {
        Flow *flow;
        while ((flow = g_queue_pop_head(&queue->ring[c])) != NULL) {
            Item *item;
            while ((item = g_queue_pop_head(&flow->items)) != NULL)
                item_free(item);
            flow->in_ring = FALSE;
        }
    }
    g_hash_table_remove_all(queue->flows);
    queue->offset = 0;
    queue->bytes = 0;
    queue->length = 0;
    queue->throttled = FALSE;
    return dropped;
}

gsize
cc_send_queue_bytes(const CcSendQueue *queue)
{
    return queue->bytes;
}

guint
cc_send_queue_length(const CcSendQueue *queue)
{
    return queue->length;
}

guint
cc_send_queue_flow_length(const CcSendQueue *queue, const char *flow_key)
{
    Flow *flow = g_hash_table_lookup(queue->flows, flow_key);
    return flow != NULL ? flow->length : 0;
}

gboolean
cc_send_queue_throttled(const CcSendQueue *queue)
{
    return queue->throttled;
}

gsize
cc_send_queue_peak_bytes(const CcSendQueue *queue)
{
    return queue->peak;
}
