/*
 * The one writer of every output file (reports, exports, calibrations):
 * checked before any run, written whole or not at all, and safe to point
 * at anything, as root too. What a path names decides how it is written:
 *   "-"                  standard output
 *   nothing yet          a new file, created exclusively: a temporary file
 *                        beside it with an unpredictable name (O_EXCL,
 *                        never through a link), renamed into place only if
 *                        the name is still free
 *   a regular file       replaced the same way, atomically
 *   a character device,  written directly, never replaced: /dev/null stays
 *   a FIFO or a socket   a device, and `--json >(jq .)` works
 *   a symbolic link      followed only to a character device, FIFO or
 *                        socket (/dev/stdout, /dev/fd/63); to a file or to
 *                        nothing it is refused, as a link planted in a
 *                        shared directory would redirect the write
 *   anything else        refused with the reason (a directory, a block
 *                        device)
 */
#ifndef CONC_OUTPUT_H
#define CONC_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

/* One output a command was asked for: its flag (for messages) and path. */
struct conc_output {
    const char *flag; /* "--json" */
    const char *path; /* NULL when not asked for */
};

/*
 * Before any run: refuses a path the writer would refuse, one it cannot
 * create a file beside, and two outputs on one destination (the same path,
 * the same file by another name, or standard output twice, "-" and
 * /dev/stdout alike). 0, or CONC_EXIT_USAGE with one line naming the flag.
 */
int conc_outputs_check(const struct conc_output *o, size_t n);

/*
 * Whether path is standard output: "-", or a name for the same file
 * (/dev/stdout, /dev/fd/1, the file stdout is redirected to). A command
 * then prints its human summary on stderr, so the output stays clean.
 */
bool conc_output_is_stdout(const char *path);

/*
 * Writes text to path as the header says. 0, or -errno with a message
 * ("cannot write 'x': ..."). An interrupted write leaves no temporary file.
 */
int conc_write_atomic(const char *path, const char *text, size_t len);

#endif
