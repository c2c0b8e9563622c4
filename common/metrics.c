/* The metrics registry (see metrics.h). Owns metric families and series; knows nothing of
 * what they count. */
#include "metrics.h"

#include "tsan.h"

#include <stdarg.h>
#include <stdatomic.h>

typedef enum { KIND_COUNTER, KIND_GAUGE } Kind;

struct _CcMetric {
    char *labels; /* rendered: {a="b",c="d"} or "" */
    _Atomic gint64 value;
    CcMetricFunc func;
    gpointer func_data;
};

typedef struct {
    char *name;
    char *help;
    Kind kind;
    GPtrArray *series; /* CcMetric*, in registration order */
} Family;

struct _CcMetrics {
    GMutex lock;
    GPtrArray *families; /* Family*, in registration order */
};

static void
metric_free(CcMetric *m)
{
    g_free(m->labels);
    g_free(m);
}

static void
family_free(Family *f)
{
    g_free(f->name);
    g_free(f->help);
    g_ptr_array_unref(f->series);
    g_free(f);
}

CcMetrics *
cc_metrics_new(void)
{
    CcMetrics *metrics = g_new0(CcMetrics, 1);
    g_mutex_init(&metrics->lock);
    metrics->families = g_ptr_array_new_with_free_func((GDestroyNotify)family_free);
    return metrics;
}

void
cc_metrics_free(CcMetrics *metrics)
{
    if (metrics == NULL)
        return;
    g_ptr_array_unref(metrics->families);
    g_mutex_clear(&metrics->lock);
    g_free(metrics);
}

gboolean
cc_metrics_name_valid(const char *name, gboolean is_label)
{
    if (name == NULL || *name == '\0' || g_ascii_isdigit(*name))
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!(g_ascii_isalnum(*p) || *p == '_' || (*p == ':' && !is_label)))
            return FALSE;
    }
    return TRUE;
}

static void
append_escaped(GString *out, const char *value, gboolean quotes)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '"' && quotes)
            g_string_append(out, "\\\"");
        else
            g_string_append_c(out, *p);
    }
}

static char *
render_labels(va_list args)
{
    GString *out = g_string_new(NULL);
    const char *key;
    while ((key = va_arg(args, const char *)) != NULL) {
        const char *value = va_arg(args, const char *);
        g_return_val_if_fail(cc_metrics_name_valid(key, TRUE) && value != NULL,
                             g_string_free(out, TRUE));
        g_string_append(out, out->len ? "," : "{");
        g_string_append_printf(out, "%s=\"", key);
        append_escaped(out, value, TRUE);
        g_string_append_c(out, '"');
    }
    if (out->len)
        g_string_append_c(out, '}');
    return g_string_free(out, FALSE);
}

static Family *
family_get(CcMetrics *metrics, const char *name, const char *help, Kind kind)
{
    for (guint i = 0; i < metrics->families->len; i++) {
        Family *f = g_ptr_array_index(metrics->families, i);
        if (g_str_equal(f->name, name)) {
            g_return_val_if_fail(f->kind == kind, NULL);
            return f;
        }
    }
    Family *f = g_new0(Family, 1);
    f->name = g_strdup(name);
    f->help = g_strdup(help);
    f->kind = kind;
    f->series = g_ptr_array_new_with_free_func((GDestroyNotify)metric_free);
    g_ptr_array_add(metrics->families, f);
    return f;
}

static CcMetric *
series_get(CcMetrics *metrics, const char *name, const char *help, Kind kind, char *labels)
{
    g_return_val_if_fail(cc_metrics_name_valid(name, FALSE) && labels != NULL, NULL);
    CcMetric *found = NULL;
    cc_mutex_lock(&metrics->lock);
    Family *f = family_get(metrics, name, help, kind);
    for (guint i = 0; f != NULL && i < f->series->len && found == NULL; i++) {
        CcMetric *m = g_ptr_array_index(f->series, i);
        if (g_str_equal(m->labels, labels))
            found = m;
    }
    if (f != NULL && found == NULL) {
        found = g_new0(CcMetric, 1);
        found->labels = labels;
        labels = NULL;
        g_ptr_array_add(f->series, found);
    }
    cc_mutex_unlock(&metrics->lock);
    g_free(labels);
    return found;
}

CcMetric *
cc_metrics_counter(CcMetrics *metrics, const char *name, const char *help, ...)
{
    va_list args;
    va_start(args, help);
    char *labels = render_labels(args);
    va_end(args);
    return series_get(metrics, name, help, KIND_COUNTER, labels);
}

CcMetric *
cc_metrics_gauge(CcMetrics *metrics, const char *name, const char *help, ...)
{
    va_list args;
    va_start(args, help);
    char *labels = render_labels(args);
    va_end(args);
    return series_get(metrics, name, help, KIND_GAUGE, labels);
}

void
cc_metrics_gauge_func(CcMetrics *metrics, const char *name, const char *help, CcMetricFunc func,
                      gpointer user_data)
{
    CcMetric *m = series_get(metrics, name, help, KIND_GAUGE, g_strdup(""));
    g_return_if_fail(m != NULL);
    m->func = func;
    m->func_data = user_data;
}

void
cc_metric_add(CcMetric *metric, gint64 delta)
{
    atomic_fetch_add_explicit(&metric->value, delta, memory_order_relaxed);
}

void
cc_metric_inc(CcMetric *metric)
{
    cc_metric_add(metric, 1);
}

void
cc_metric_set(CcMetric *metric, gint64 value)
{
    atomic_store_explicit(&metric->value, value, memory_order_relaxed);
}

gint64
cc_metric_get(const CcMetric *metric)
{
    if (metric->func != NULL)
        return metric->func(metric->func_data);
    return atomic_load_explicit(&((CcMetric *)metric)->value, memory_order_relaxed);
}

char *
cc_metrics_render(CcMetrics *metrics)
{
    GString *out = g_string_new(NULL);
    cc_mutex_lock(&metrics->lock);
    for (guint i = 0; i < metrics->families->len; i++) {
        Family *f = g_ptr_array_index(metrics->families, i);
        g_string_append_printf(out, "# HELP %s ", f->name);
        append_escaped(out, f->help, FALSE);
        g_string_append_printf(out, "\n# TYPE %s %s\n", f->name,
                               f->kind == KIND_COUNTER ? "counter" : "gauge");
        for (guint j = 0; j < f->series->len; j++) {
            CcMetric *m = g_ptr_array_index(f->series, j);
            g_string_append_printf(out, "%s%s %" G_GINT64_FORMAT "\n", f->name, m->labels,
                                   cc_metric_get(m));
        }
    }
    cc_mutex_unlock(&metrics->lock);
    return g_string_free(out, FALSE);
}
