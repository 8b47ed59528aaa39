/* ghostnet info: the per-block table of the paper's Table 1 with params and MACs. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char info_help[] =
    "usage: ghostnet info (--weights FILE | --arch NAME [model options]) [--input S] [--json]\n"
    "\n"
    "Prints one row per block (input shape, expansion, output channels, SE, stride, params,\n"
    "MACs) and the totals. MACs are multiply-accumulates of conv and linear layers for one\n"
    "image; params count learnable weights (BN running statistics excluded).\n"
    "\n"
    "  --json               print JSON: {\"model\": {...}, \"blocks\": [...], \"total\": {...}}\n"
    "  -h, --help           this help\n"
    "\n";

/* 1234567 -> "1,234,567" */
static const char *grouped(int64_t value, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%lld", (long long)(value < 0 ? -value : value));
    size_t out = 0;
    if (value < 0 && out + 1 < size)
        buf[out++] = '-';
    for (int i = 0; i < len && out + 1 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0 && out + 1 < size)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

static const char *arch_name(gn_arch arch)
{
    switch (arch) {
    case GN_ARCH_GHOSTNET:
        return "ghostnet";
    case GN_ARCH_RESNET:
        return "resnet";
    case GN_ARCH_VGG:
        return "vgg";
    default:
        return "custom";
    }
}

static void describe(const gn_model_config *c, int num_classes, char *buf, size_t size)
{
    char ghost[48] = "";
    if (c->ghost_ratio)
        snprintf(ghost, sizeof(ghost), " (s=%d, d=%d)", c->ghost_ratio, c->ghost_kernel);
    if (c->arch == GN_ARCH_GHOSTNET) {
        char width[32];
        snprintf(width, sizeof(width), "%g", c->width);
        snprintf(buf, size, "GhostNet %s%sx%s, %d classes", width, strchr(width, '.') ? "" : ".0",
                 c->small_input ? " (small input)" : "", num_classes);
    } else if (c->arch == GN_ARCH_RESNET || c->arch == GN_ARCH_VGG) {
        snprintf(buf, size, "CIFAR %s%s-%d%s, %d classes", c->ghost_ratio ? "Ghost-" : "",
                 c->arch == GN_ARCH_RESNET ? "ResNet" : "VGG", c->depth, ghost, num_classes);
    } else
        snprintf(buf, size, "model, %d classes", num_classes);
}

static void print_table(const gn_model *m, const gn_block_info *rows, int count, int h, int w,
                        int64_t params, int64_t macs)
{
    char title[128], a[32], b[32];
    describe(gn_model_get_config(m), gn_model_num_classes(m), title, sizeof(title));
    printf("%s, input %dx%dx%d\n\n", title, gn_model_in_channels(m), h, w);
    printf("%-12s %-12s %-12s %5s %5s %3s %6s %12s %14s\n", "block", "operator", "input", "exp",
           "out", "SE", "stride", "params", "MACs");
    for (int i = 0; i < count; i++) {
        const gn_block_info *r = &rows[i];
        char input[32], exp[16];
        snprintf(input, sizeof(input), "%dx%dx%d", r->in_c, r->in_h, r->in_w);
        if (r->exp)
            snprintf(exp, sizeof(exp), "%d", r->exp);
        else
            snprintf(exp, sizeof(exp), "-");
        printf("%-12s %-12s %-12s %5s %5d %3s %6d %12s %14s\n", r->name, r->op, input, exp,
               r->out_c, r->se ? "1" : "-", r->stride, grouped(r->params, a, sizeof(a)),
               grouped(r->macs, b, sizeof(b)));
    }
    printf("%-12s %-12s %-12s %5s %5s %3s %6s %12s %14s\n", "total", "", "", "", "", "", "",
           grouped(params, a, sizeof(a)), grouped(macs, b, sizeof(b)));
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const gn_model *m, const gn_block_info *rows, int count, int h, int w,
                       int64_t params, int64_t macs)
{
    const gn_model_config *c = gn_model_get_config(m);
    printf("{\"model\": {\"arch\": \"%s\", \"width\": %g, \"small_input\": %s, "
           "\"depth\": %d, ",
           arch_name(c->arch), c->width, c->small_input ? "true" : "false", c->depth);
    if (c->ghost_ratio)
        printf("\"ghost\": [%d, %d], ", c->ghost_ratio, c->ghost_kernel);
    else
        printf("\"ghost\": null, ");
    printf("\"num_classes\": %d, \"in_channels\": %d, \"input\": [%d, %d]},\n",
           gn_model_num_classes(m), gn_model_in_channels(m), h, w);
    printf(" \"blocks\": [\n");
    for (int i = 0; i < count; i++) {
        const gn_block_info *r = &rows[i];
        printf("  {\"name\": ");
        print_json_string(r->name);
        printf(", \"op\": ");
        print_json_string(r->op);
        printf(", \"input\": [%d, %d, %d], \"exp\": %d, \"output\": [%d, %d, %d], "
               "\"se\": %s, \"stride\": %d, \"params\": %lld, \"macs\": %lld}%s\n",
               r->in_c, r->in_h, r->in_w, r->exp, r->out_c, r->out_h, r->out_w,
               r->se ? "true" : "false", r->stride, (long long)r->params, (long long)r->macs,
               i + 1 < count ? "," : "");
    }
    printf(" ],\n \"total\": {\"params\": %lld, \"macs\": %lld}}\n", (long long)params,
           (long long)macs);
}

int cmd_info(int argc, char **argv)
{
    cli_args a;
    cli_model_spec spec;
    int json = 0;
    cli_args_init(&a, "info", argc, argv);
    cli_model_spec_init(&spec);
    for (const char *arg; (arg = cli_next(&a));) {
        int used = cli_model_option(&a, arg, &spec);
        if (used < 0)
            return CLI_USAGE;
        if (used)
            continue;
        if (cli_flag(arg, "--json"))
            json = 1;
        else if (cli_flag(arg, "-h") || cli_flag(arg, "--help")) {
            fputs(info_help, stdout);
            fputs(cli_model_options_help, stdout);
            return CLI_OK;
        } else
            return cli_usage_error("info", "unknown argument '%s'", arg);
    }
    gn_context *ctx = NULL;
    gn_model *m = NULL;
    int rc = CLI_ERROR;
    gn_block_info *rows = NULL;
    if (gn_context_create(NULL, &ctx) != GN_OK) {
        fprintf(stderr, "ghostnet info: error: cannot create a context\n");
        return CLI_ERROR;
    }
    rc = cli_open_model("info", ctx, &spec, 0, &m);
    if (rc != CLI_OK)
        goto done;
    const gn_model_config *c = gn_model_get_config(m);
    int h = spec.have_input ? spec.config.input_h : c->input_h;
    int w = spec.have_input ? spec.config.input_w : c->input_w;
    int count = 0;
    gn_status st = gn_model_summary(m, h, w, NULL, 0, &count);
    rows = st == GN_OK ? calloc((size_t)count + 1, sizeof(*rows)) : NULL;
    if (st == GN_OK && !rows)
        st = GN_ERR_NOMEM;
    if (st == GN_OK)
        st = gn_model_summary(m, h, w, rows, count, &count);
    int64_t macs = 0;
    if (st == GN_OK)
        st = gn_model_macs(m, h, w, &macs);
    if (st != GN_OK) {
        rc = cli_lib_error("info", ctx, st);
        goto done;
    }
    if (json)
        print_json(m, rows, count, h, w, gn_model_param_count(m), macs);
    else
        print_table(m, rows, count, h, w, gn_model_param_count(m), macs);
    rc = CLI_OK;
done:
    free(rows);
    gn_model_free(m);
    gn_context_destroy(ctx);
    return rc;
}
