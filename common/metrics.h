/* A small metrics registry rendered in the Prometheus text format.
 *
 * Registration (control plane) takes a lock; updating a value is one relaxed atomic
 * operation, safe from any thread and cheap enough for the per-packet path. Label values
 * are fixed at registration: a metric never carries a room name or a JID. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _CcMetrics CcMetrics;
typedef struct _CcMetric CcMetric;
typedef gint64 (*CcMetricFunc)(gpointer user_data);

CcMetrics *cc_metrics_new(void);
void cc_metrics_free(CcMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CcMetrics, cc_metrics_free)

/* Returns the series for `name` with the given labels (NULL-terminated name, value pairs),
 * creating it on first use. The same name must always be used with the same type and help. */
CcMetric *cc_metrics_counter(CcMetrics *metrics, const char *name, const char *help,
                             ...) G_GNUC_NULL_TERMINATED;
CcMetric *cc_metrics_gauge(CcMetrics *metrics, const char *name, const char *help,
                           ...) G_GNUC_NULL_TERMINATED;
/* A gauge whose value is read by calling `func` when rendering (on the rendering thread). */
void cc_metrics_gauge_func(CcMetrics *metrics, const char *name, const char *help,
                           CcMetricFunc func, gpointer user_data);

void cc_metric_add(CcMetric *metric, gint64 delta);
void cc_metric_inc(CcMetric *metric);
void cc_metric_set(CcMetric *metric, gint64 value);
gint64 cc_metric_get(const CcMetric *metric);

char *cc_metrics_render(CcMetrics *metrics);

/* Metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':'). */
gboolean cc_metrics_name_valid(const char *name, gboolean is_label);

G_END_DECLS
