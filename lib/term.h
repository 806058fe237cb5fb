/*
 * The terminal a human reads: whether to colour it (hyperfine's way, and
 * https://no-color.org) and how wide it is, so that lines redrawn in place
 * never wrap.
 */
#ifndef CONC_TERM_H
#define CONC_TERM_H

#include <stdbool.h>

/*
 * Whether text for fd may carry colour: fd is a terminal, NO_COLOR is unset
 * or empty, and TERM is not "dumb". Never when fd is a file or a pipe.
 */
bool conc_term_colour(int fd);

/*
 * The width of the terminal on fd in columns: its window size (TIOCGWINSZ),
 * else $COLUMNS, else 80; never below 20.
 */
unsigned conc_term_width(int fd);

/*
 * SGR sequences for one stream, all "" when it gets no colour: fill it with
 * conc_term_paint(). Text is written as paint.green, "text", paint.reset.
 */
struct conc_paint {
    const char *bold, *dim, *green, *cyan, *magenta, *yellow, *red, *reset;
};

/* Sets p for fd: colours when conc_term_colour(fd), else every field "". */
void conc_term_paint(struct conc_paint *p, int fd);

#endif
