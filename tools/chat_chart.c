/* chat_chart: render a chart from a JSON file exactly as a ChatJob chart job
 * would, to preview a data mapping or to time the renderer.
 *   chat_chart KIND WIDTHxHEIGHT FONT DATA.json "MAPPING" OUT.png [TITLE [REPEAT]]
 * REPEAT > 1 renders that many times and prints the mean time per chart. */
#include <stdio.h>
#include <stdlib.h>

#include <apr_file_io.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "chat_chart.h"

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    chat_chart c = {0};
    char *data;
    apr_size_t len;
    apr_file_t *f;
    apr_finfo_t fi;
    void *png = NULL;
    int size = 0, i, repeat;
    const char *err;
    apr_time_t t0;

    if (argc < 7) {
        fprintf(stderr, "usage: %s KIND WxH FONT DATA.json MAPPING OUT.png [TITLE [REPEAT]]\n",
                argv[0]);
        return 2;
    }
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    if (!(c.kind = chat_chart_kind_parse(argv[1])) ||
        sscanf(argv[2], "%dx%d", &c.width, &c.height) != 2) {
        fprintf(stderr, "bad kind or size\n");
        return 2;
    }
    c.font = argv[3];
    c.title = argc > 7 ? argv[7] : NULL;
    repeat = argc > 8 ? atoi(argv[8]) : 1;
    if (apr_file_open(&f, argv[4], APR_FOPEN_READ, 0, p) ||
        apr_file_info_get(&fi, APR_FINFO_SIZE, f)) {
        fprintf(stderr, "cannot read %s\n", argv[4]);
        return 1;
    }
    len = (apr_size_t)fi.size;
    data = apr_pcalloc(p, len + 1);
    apr_file_read_full(f, data, len, NULL);
    if ((err = chat_chart_from_json(p, &c, data, argv[5]))) {
        fprintf(stderr, "data: %s\n", err);
        return 1;
    }
    t0 = apr_time_now();
    for (i = 0; i < (repeat > 0 ? repeat : 1); i++) {
        if ((err = chat_chart_render(p, &c, &png, &size))) {
            fprintf(stderr, "render: %s\n", err);
            return 1;
        }
    }
    if (repeat > 1) {
        printf("%s %dx%d items=%d png_bytes=%d ms_per_chart=%.2f\n", argv[1], c.width, c.height,
               c.n, size, (double)(apr_time_now() - t0) / 1000.0 / repeat);
    }
    if (apr_file_open(&f, argv[6], APR_FOPEN_WRITE | APR_FOPEN_CREATE | APR_FOPEN_TRUNCATE,
                      APR_FPROT_OS_DEFAULT, p) ||
        apr_file_write_full(f, png, (apr_size_t)size, NULL) || apr_file_close(f)) {
        fprintf(stderr, "cannot write %s\n", argv[6]);
        return 1;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return 0;
}
