/*
 * concbench sweep's progress: on a terminal a bar redrawn in place, as wide
 * as the terminal and no wider; off one (a CI log), a line every few
 * seconds with the count, the time so far and the ETA.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/sweep.h"
#include "lib/clock.h"
#include "lib/err.h"
#include "lib/term.h"

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
    p->logged_ns = 0;
    for (size_t i = 0; i < n; i++)
        p->total_w += warmup + steps[i].runs;
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

/* The share done, the seconds so far and the ETA, in text. */
static double sweep_progress_times(const struct sweep_progress *p,
                                   char *elapsed, char *eta, size_t len)
{
    double frac = p->total_w ? (double)p->done_w / (double)p->total_w : 1;
    double secs = (double)(conc_now_ns() - p->t0_ns) / CONC_NS_PER_S;

    sweep_fmt_eta(elapsed, len, secs);
    sweep_fmt_eta(eta, len, p->done_w ? secs * (1 - frac) / frac : -1);
    return frac;
}

/* "sleep/threads T=4 gil=on", sanitized: it reaches a terminal. */
static void sweep_cell_text(char *buf, size_t len, const struct sweep_cell *sc)
{
    char raw[256];

    if (!sc) {
        buf[0] = '\0';
        return;
    }
    snprintf(raw, sizeof(raw), "%s/%s T=%u%s%s", sc->cell.workload->name,
             sc->cell.model->name, sc->cell.tasks,
             *sc->opts_label ? " " : "", sc->opts_label);
    conc_sanitize(buf, len, raw);
}

/* Cuts text to at most cols columns (UTF-8: continuation bytes are free). */
static void sweep_fit(char *text, size_t cols)
{
    size_t n = 0;

    for (unsigned char *p = (unsigned char *)text; *p; p++)
        if ((*p & 0xc0) != 0x80 && ++n > cols) {
            *p = '\0';
            return;
        }
}

void sweep_progress_show(const struct sweep_progress *p,
                         const struct sweep_cell *sc)
{
    char bar[32], head[96], tail[48], eta[16], elapsed[16], cell[256];
    unsigned width;
    size_t room, nbar;
    double frac;
    int fill;

    if (!p->tty)
        return;
    width = conc_term_width(STDERR_FILENO);
    frac = sweep_progress_times(p, elapsed, eta, sizeof(eta));
    /* The bar takes a fifth of the line, 10 to 30 columns. */
    nbar = width / 5 < 10 ? 10 : width / 5 > 30 ? 30 : width / 5;
    fill = (int)(frac * (double)nbar);
    for (size_t i = 0; i < nbar; i++)
        bar[i] = (int)i < fill ? '#' : '.';
    bar[nbar] = '\0';
    snprintf(head, sizeof(head), "[%s] %zu/%zu ", bar,
             p->done_steps + (sc ? 1 : 0), p->total_steps);
    snprintf(tail, sizeof(tail), "  ETA %s", eta);
    sweep_cell_text(cell, sizeof(cell), sc);
    /* A column short of the edge: a full last column wraps on some
       terminals. */
    room = strlen(head) + strlen(tail) + 1 < width
               ? width - 1 - strlen(head) - strlen(tail) : 0;
    sweep_fit(cell, room);
    if (strlen(head) + strlen(tail) + 1 > width)
        snprintf(head, sizeof(head), "%zu/%zu ",
                 p->done_steps + (sc ? 1 : 0), p->total_steps);
    fprintf(stderr, "\r\033[K%s%s%s\r", head, cell, tail);
    fflush(stderr);
}

void sweep_progress_step(struct sweep_progress *p, unsigned runs,
                         const struct sweep_cell *sc)
{
    char eta[16], elapsed[16], cell[256];
    uint64_t now = conc_now_ns();
    double frac;

    p->done_w += p->warmup + runs;
    p->done_steps++;
    if (p->tty)
        return;
    if (p->logged_ns && p->done_steps < p->total_steps &&
        now - p->logged_ns < SWEEP_LOG_NS)
        return;
    p->logged_ns = now;
    frac = sweep_progress_times(p, elapsed, eta, sizeof(eta));
    sweep_cell_text(cell, sizeof(cell), sc);
    if (p->done_steps == p->total_steps)
        fprintf(stderr, "sweep: %zu/%zu steps done in %s\n", p->done_steps,
                p->total_steps, elapsed);
    else
        fprintf(stderr, "sweep: %zu/%zu steps (%.0f%%), %s elapsed, ETA %s; "
                "last: %s\n", p->done_steps, p->total_steps, 100 * frac,
                elapsed, eta, cell);
    fflush(stderr);
}

void sweep_progress_clear(const struct sweep_progress *p)
{
    if (p->tty)
        fputs("\r\033[K", stderr);
}
