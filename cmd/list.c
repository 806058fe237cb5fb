/*
 * concbench list: every model and workload with its options, generated from
 * the same tables that parse them, so the help can never drift.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmds.h"
#include "cmd/exit.h"
#include "cmd/registry.h"
#include "lib/err.h"

static void list_opts(FILE *f, const struct conc_opt *opts)
{
    for (size_t i = 0; opts && opts[i].key; i++) {
        const struct conc_opt *o = &opts[i];
        char spec[64];

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
        if (m->unavailable)
            fprintf(f, " [unavailable: %s]", m->unavailable);
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

int cmd_list(int argc, char **argv)
{
    if (argc > 1) {
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
            puts("usage: concbench list");
            return CONC_EXIT_OK;
        }
        return conc_usage_error("unexpected argument '%s' (usage: concbench "
                                "list)", argv[1]);
    }
    conc_list_print(stdout);
    return CONC_EXIT_OK;
}
