/*
 * Terminal facts for human output: colour or not, and the width.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/term.h"

bool conc_term_colour(int fd)
{
    const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

    if (!isatty(fd))
        return false;
    if (no && *no)
        return false;
    return !(term && strcmp(term, "dumb") == 0);
}

unsigned conc_term_width(int fd)
{
    struct winsize ws;
    const char *cols = getenv("COLUMNS");
    unsigned w = 80;

    if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        w = ws.ws_col;
    } else if (cols && *cols) {
        char *end;
        unsigned long v = strtoul(cols, &end, 10);
        if (!*end && v > 0 && v < 10000)
            w = (unsigned)v;
    }
    return w < 20 ? 20 : w;
}

void conc_term_paint(struct conc_paint *p, int fd)
{
    static const struct conc_paint none = { "", "", "", "", "", "", "", "" };
    static const struct conc_paint sgr = {
        "\033[1m", "\033[2m", "\033[32m", "\033[36m", "\033[35m",
        "\033[33m", "\033[31m", "\033[0m",
    };

    *p = conc_term_colour(fd) ? sgr : none;
}
