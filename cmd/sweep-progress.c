/*
 * concbench sweep's progress line on a terminal: a bar, the step count,
 * the cell running and an ETA.
 */
#include <stdio.h>
#include <unistd.h>

#include "cmd/sweep.h"
#include "lib/clock.h"

void sweep_progress_start(struct sweep_progress *p,
                          const struct sweep_step *steps, size_t n,
                          unsigned warmup)
{
    p->tty = isatty(STDERR_FILENO);
    p->warmup = warmup;
    p->t0_ns = conc_now_ns();
    p->done_w = p->total_w = 0;
    p->done_steps = 0;
    p->total_steps = n;
    for (size_t i = 0; i < n; i++)
        p->total_w += warmup + steps[i].runs;
}

void sweep_progress_step(struct sweep_progress *p, unsigned runs)
{
    p->done_w += p->warmup + runs;
    p->done_steps++;
}

/* "1m05s", "42s", "--" when unknown. */
static void sweep_fmt_eta(char *buf, size_t len, double s)
{
    if (s < 0)
        snprintf(buf, len, "--");
    else if (s < 60)
        snprintf(buf, len, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

/*
 * A bar over runs done (warmups included), the step count, the current
 * cell and an ETA from the pace so far.
 */
void sweep_progress_show(const struct sweep_progress *p,
                         const struct sweep_cell *sc)
{
    char bar[21], eta[16], cell[48];
    double frac = p->total_w ? (double)p->done_w / (double)p->total_w : 1;
    double elapsed = (double)(conc_now_ns() - p->t0_ns) / CONC_NS_PER_S;
    int fill = (int)(frac * 20);

    if (!p->tty)
        return;
    for (int i = 0; i < 20; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[20] = '\0';
    sweep_fmt_eta(eta, sizeof(eta),
                  p->done_w ? elapsed * (1 - frac) / frac : -1);
    if (sc)
        snprintf(cell, sizeof(cell), "%s/%s T=%u%s%s",
                 sc->cell.workload->name, sc->cell.model->name,
                 sc->cell.tasks, *sc->opts_label ? " " : "", sc->opts_label);
    else
        cell[0] = '\0';
    fprintf(stderr, "\r\033[K[%s] %zu/%zu %s  ETA %s\r", bar,
            p->done_steps + (sc ? 1 : 0), p->total_steps, cell, eta);
    fflush(stderr);
}

void sweep_progress_clear(const struct sweep_progress *p)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
}
