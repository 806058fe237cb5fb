/*
 * concbench list: every model and workload with its options, generated from
 * the same tables that parse them, so the help can never drift.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/flags.h"
#include "cmd/registry.h"
#include "lib/err.h"

static void list_opts(FILE *f, const struct conc_opt *opts)
{
    for (size_t i = 0; opts && opts[i].key; i++) {
        const struct conc_opt *o = &opts[i];
        char spec[128];

        snprintf(spec, sizeof(spec), "%s=<%s>", o->key,
                 o->type == CONC_OPT_CHOICE ? o->choices
                                            : conc_opt_type_name(o->type));
        fprintf(f, "      -o %-26s %s", spec, o->help);
        if (o->def)
            fprintf(f, " (default %s)", o->def);
        fputc('\n', f);
    }
}

void conc_list_print(FILE *f)
{
    fputs("models:\n", f);
    for (size_t i = 0; conc_models[i]; i++) {
        const struct conc_model *m = conc_models[i];
        fprintf(f, "  %-12s %s", m->name, m->summary);
        if (m->like)
            fprintf(f, " (like %s)", m->like);
        if (conc_model_refusal(m))
            fprintf(f, " [unavailable: %s]", conc_model_refusal(m));
        fputc('\n', f);
        list_opts(f, m->opts);
    }
    fputs("\nworkloads:\n", f);
    for (size_t i = 0; conc_workloads[i]; i++) {
        const struct conc_workload *w = conc_workloads[i];
        fprintf(f, "  %-12s %s", w->name, w->summary);
        if (w->unavailable)
            fprintf(f, " [unavailable: %s]", w->unavailable);
        fputc('\n', f);
        list_opts(f, w->opts);
    }
}

/* A field for a TSV row: tabs and newlines would break the row. */
static void list_tsv_field(FILE *f, const char *s)
{
    for (; s && *s; s++)
        fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static void list_tsv_row(FILE *f, const char *kind, const char *name,
                         const char *unavailable)
{
    fprintf(f, "%s\t%s\t%s\t", kind, name,
            unavailable ? "unavailable" : "available");
    list_tsv_field(f, unavailable);
    fputc('\n', f);
}

/*
 * For scripts: one row a model or workload, "kind<TAB>name<TAB>available
 * or unavailable<TAB>why", in the order of the registry.
 */
static void list_print_tsv(FILE *f)
{
    for (size_t i = 0; conc_models[i]; i++)
        list_tsv_row(f, "model", conc_models[i]->name,
                     conc_model_refusal(conc_models[i]));
    for (size_t i = 0; conc_workloads[i]; i++)
        list_tsv_row(f, "workload", conc_workloads[i]->name,
                     conc_workloads[i]->unavailable);
}

int cmd_list(int argc, char **argv)
{
    const char *format = NULL;
    const struct conc_flag flags[] = {
        { CONC_FLAG_STRING, 0, "format", &format, "text|tsv",
          "text (default: every option, for people) or tsv (one row a "
          "model or workload: kind, name, available or unavailable, why; "
          "for scripts)", 0, 0 },
        { CONC_FLAG_END },
    };
    const struct conc_command cmd = {
        .name = "list", .synopsis = "list [--format text|tsv]",
        .flags = flags,
    };
    struct conc_operands ops;
    int rc = conc_flags_parse(&cmd, argc, argv, &ops);

    conc_flags_fini(&ops);
    if (rc != CONC_FLAGS_OK)
        return rc == CONC_FLAGS_HELP ? CONC_EXIT_OK : rc;
    if (!format || strcmp(format, "text") == 0)
        conc_list_print(stdout);
    else if (strcmp(format, "tsv") == 0)
        list_print_tsv(stdout);
    else
        return conc_flags_error(&cmd, "unknown format '%s': expected text or tsv",
                                format);
    return CONC_EXIT_OK;
}
