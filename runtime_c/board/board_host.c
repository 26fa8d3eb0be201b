/*
 * board_host.c - mcf_board.h for the build machine: stdio files and console, exit().
 * Instruction counts are not measured on the host (counter_stop returns 0 and nothing is
 * reported); the host build exists for fast bit-exactness checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include "mcf_board.h"

void mcf_board_init(void)
{
    /* Line-buffered so output interleaves sensibly with anything the runner captures. */
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int mcf_board_read_file_at(const char *path, void *buf, uint32_t nbytes, uint32_t offset)
{
    size_t got;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    if (fseek(f, (long)offset, SEEK_SET) != 0) {
        fclose(f);
        return -1;
    }
    got = fread(buf, 1, nbytes, f);
    fclose(f);
    return got == (size_t)nbytes ? 0 : -1;
}

int mcf_board_read_file(const char *path, void *buf, uint32_t nbytes)
{
    return mcf_board_read_file_at(path, buf, nbytes, 0u);
}

int mcf_board_write_file(const char *path, const void *buf, uint32_t nbytes, int append)
{
    size_t put;
    int closed;
    FILE *f = fopen(path, append ? "ab" : "wb");
    if (f == NULL) {
        return -1;
    }
    put = fwrite(buf, 1, nbytes, f);
    closed = fclose(f);
    return (put == (size_t)nbytes && closed == 0) ? 0 : -1;
}

void mcf_board_print(const char *s)
{
    fputs(s, stdout);
}

void mcf_board_print_u64(uint64_t value)
{
    printf("%llu", (unsigned long long)value);
}

void mcf_board_counter_start(void)
{
}

uint64_t mcf_board_counter_stop(void)
{
    return 0u;
}

void mcf_board_report_instructions(const char *label, uint64_t n)
{
    (void)label;
    (void)n;
}

uint32_t mcf_board_stack_used(void)
{
    return 0u;
}

void mcf_board_report_stack(void)
{
}

void mcf_board_exit(int code)
{
    fflush(stdout);
    exit(code);
}
