/* page.c - index.html: one self-contained page. cmark-gfm turns the report's Markdown
 * into HTML; each figure slot becomes its plot's SVG, inline, read with libxml2 so that
 * its ids can be made unique on the page and nothing in it can fetch anything (scripts,
 * event handlers and links that leave the page are dropped). A Content-Security-Policy
 * forbids every request besides, and no JavaScript is needed to read it. */
#include "lab/report/report.h"

#include <stdlib.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

static const char css[] =
    "body{margin:0;background:#fff;color:#1d2330;font:16px/1.55 system-ui,-apple-system,"
    "'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\n"
    "main{max-width:62rem;margin:0 auto;padding:1.5rem 1.25rem 4rem}\n"
    "h1{font-size:1.9rem;line-height:1.25;margin:.5rem 0 1rem}\n"
    "h2{font-size:1.45rem;line-height:1.3;margin-top:3rem;padding-top:1.4rem;"
    "border-top:2px solid #dde2ea}\n"
    "h3{font-size:1.1rem;margin-top:2rem}\n"
    "a{color:#1f5fbf}\n"
    "table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.8rem 0 1.4rem}\n"
    "th,td{border-bottom:1px solid #e3e7ee;padding:.35rem .55rem;vertical-align:top;"
    "text-align:left}\n"
    "th{background:#f4f6fa;white-space:nowrap}\n"
    ".claims td:nth-child(2){width:40%}\n"
    ".checks td:first-child{min-width:12rem}.checks td:nth-child(2){min-width:5rem}"
    ".checks td:last-child{min-width:15rem}\n"
    "td[align=right],th[align=right]{text-align:right;white-space:nowrap}\n"
    "td[align=center],th[align=center]{text-align:center}\n"
    "code{font:.86em/1.4 ui-monospace,'DejaVu Sans Mono',monospace;background:#f2f4f7;"
    "padding:.05em .3em;border-radius:3px}\n"
    "td code{white-space:nowrap}.checks td code{white-space:normal;overflow-wrap:anywhere}\n"
    ".verdict{display:inline-block;padding:.05em .6em;border-radius:1em;font-weight:600;"
    "font-size:.88em;white-space:nowrap}\n"
    ".confirmed{background:#dcf3e3;color:#125c2b}.refuted{background:#fbe0e0;color:#8a1c1c}"
    ".corrected{background:#fff0c7;color:#6b4a00}.undecided{background:#ece4f7;"
    "color:#4b2a7a}.unmeasured{background:#eceff3;color:#4a5463}\n"
    ".ok{color:#1a7f37}.fail{color:#c62828;font-weight:700}\n"
    "figure{margin:1.4rem 0}\n"
    "figure svg{display:block;width:100%;max-width:52rem;height:auto;"
    "border:1px solid #e3e7ee;border-radius:4px}\n"
    "figure svg image{image-rendering:pixelated}\n"
    "figcaption{font-size:.9rem;color:#4a5463;margin-top:.4rem}\n"
    ".missing{padding:1rem;border:1px dashed #c3cad6;color:#4a5463}\n"
    "@media print{h2{break-before:page}figure,tr{break-inside:avoid}"
    "main{max-width:none}}\n";

/* ---- A plot's SVG ------------------------------------------------------------------ */

/* A copy of val with every "url(#" turned into "url(#<pre>" (malloc'd). */
static char *prefix_urls(const char *val, const char *pre)
{
    size_t len = strlen(val) + 1;
    for (const char *p = val; (p = strstr(p, "url(#")); p++)
        len += strlen(pre);
    char *nv = lab_xmalloc(len), *o = nv;
    for (const char *p = val; *p;) {
        if (!strncmp(p, "url(#", 5)) {
            o += sprintf(o, "url(#%s", pre);
            p += 5;
        } else {
            *o++ = *p++;
        }
    }
    *o = 0;
    return nv;
}

/* Element n's attributes: ids and the references to them prefixed with 'pre'; event
 * handlers and links that leave the document dropped. */
static void tidy_attrs(xmlNode *n, const char *pre)
{
    for (xmlAttr *a = n->properties; a;) {
        xmlAttr *next = a->next;
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        const char *name = (const char *)a->name, *val = v ? (const char *)v : "";
        char *nv = NULL;
        if (!strcmp(name, "id")) {
            if (asprintf(&nv, "%s%s", pre, val) < 0)
                abort();
        } else if (!strcmp(name, "href") && val[0] == '#') {
            if (asprintf(&nv, "#%s%s", pre, val + 1) < 0)
                abort();
        } else if ((!strcmp(name, "href") && strncmp(val, "data:", 5)) || !strncmp(name, "on", 2)) {
            xmlRemoveProp(a);
        } else if (strstr(val, "url(#")) {
            nv = prefix_urls(val, pre);
        }
        if (nv)
            xmlSetNsProp(n, a->ns, a->name, (const xmlChar *)nv);
        free(nv);
        xmlFree(v);
        a = next;
    }
}

/* Tidy the elements from n on and everything below them; scripts and foreign objects
 * go. */
static void tidy(xmlNode *n, const char *pre)
{
    while (n) {
        xmlNode *next = n->next;
        if (n->type == XML_ELEMENT_NODE) {
            const char *name = (const char *)n->name;
            if (!strcmp(name, "script") || !strcmp(name, "foreignObject")) {
                xmlUnlinkNode(n);
                xmlFreeNode(n);
            } else {
                tidy_attrs(n, pre);
                tidy(n->children, pre);
            }
        }
        n = next;
    }
}

/* <figure> with the plot's SVG inline and its caption, as markup (malloc'd); a box
 * saying so when the plot was not drawn. */
static char *figure(const struct rep_figure *x, size_t n)
{
    const char *title = x->plot->title ? x->plot->title : x->plot->name;
    xmlDoc *doc = x->svg ? xmlReadFile(x->svg, NULL,
                                       XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                                           XML_PARSE_NOWARNING)
                         : NULL;
    xmlNode *svg = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!doc)
        doc = xmlNewDoc((const xmlChar *)"1.0");
    /* In the SVG's document, whose dictionary owns its names. */
    xmlNode *fig = xmlNewDocNode(doc, NULL, (const xmlChar *)"figure", NULL);
    char id[32];
    snprintf(id, sizeof(id), "figure-%zu", n);
    xmlSetProp(fig, (const xmlChar *)"id", (const xmlChar *)id);
    if (svg && !strcmp((const char *)svg->name, "svg")) {
        snprintf(id, sizeof(id), "f%zu-", n);
        xmlUnlinkNode(svg);
        tidy(svg, id);
        for (xmlNode *c = svg->children; c; c = c->next)
            if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "title"))
                xmlNodeSetContent(c, (const xmlChar *)title); /* "Gnuplot" */
        xmlSetProp(svg, (const xmlChar *)"role", (const xmlChar *)"img");
        xmlSetProp(svg, (const xmlChar *)"aria-label", (const xmlChar *)title);
        xmlAddChild(fig, svg);
    } else {
        xmlNode *box = xmlNewTextChild(fig, NULL, (const xmlChar *)"div",
                                       (const xmlChar *)"This plot was not drawn (gnuplot was "
                                                        "not found when the scenario ran).");
        xmlSetProp(box, (const xmlChar *)"class", (const xmlChar *)"missing");
    }
    char cap[64];
    snprintf(cap, sizeof(cap), "Figure %zu: ", n);
    xmlNode *fc = xmlNewTextChild(fig, NULL, (const xmlChar *)"figcaption", (const xmlChar *)cap);
    xmlNodeAddContent(fc, (const xmlChar *)title);
    xmlBuffer *buf = xmlBufferCreate();
    xmlNodeDump(buf, doc, fig, 0, 0);
    char *out = lab_xstrdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    xmlFreeNode(fig);
    xmlFreeDoc(doc);
    return out;
}

/* ---- The page ---------------------------------------------------------------------- */

static char *render(const char *markdown, struct lab_err *err)
{
    cmark_gfm_core_extensions_ensure_registered();
    int opts = CMARK_OPT_UNSAFE | CMARK_OPT_VALIDATE_UTF8;
    cmark_parser *p = cmark_parser_new(opts);
    const char *exts[] = {"table", "tagfilter"};
    for (size_t i = 0; i < 2; i++) {
        cmark_syntax_extension *e = cmark_find_syntax_extension(exts[i]);
        if (!e) {
            cmark_parser_free(p);
            lab_errf(err, NULL, "cmark-gfm has no '%s' extension", exts[i]);
            return NULL;
        }
        cmark_parser_attach_syntax_extension(p, e);
    }
    cmark_parser_feed(p, markdown, strlen(markdown));
    cmark_node *doc = cmark_parser_finish(p);
    char *html = cmark_render_html(doc, opts, cmark_parser_get_syntax_extensions(p));
    cmark_node_free(doc);
    cmark_parser_free(p);
    return html;
}

static void html_text(FILE *f, const char *s)
{
    for (; *s; s++)
        fputs(*s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;" : (char[]){*s, 0}, f);
}

char *rep_page(const char *markdown, const struct rep_figure *fig, size_t nfig, const char *title,
               struct lab_err *err)
{
    char *body = render(markdown, err);
    if (!body)
        return NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; img-src data:\">\n<title>",
          f);
    html_text(f, title);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", css);
    static const char slot[] = "<div data-figure=\"";
    for (const char *p = body; *p;) {
        const char *at = strstr(p, slot);
        if (!at) {
            fputs(p, f);
            break;
        }
        fwrite(p, 1, (size_t)(at - p), f);
        char *end;
        unsigned long n = strtoul(at + sizeof(slot) - 1, &end, 10);
        const char *close = strstr(end, "</div>");
        if (n < 1 || n > nfig || !close) { /* not a slot of ours: keep it */
            fwrite(at, 1, sizeof(slot) - 1, f);
            p = at + sizeof(slot) - 1;
            continue;
        }
        char *markup = figure(&fig[n - 1], n);
        fputs(markup, f);
        free(markup);
        p = close + strlen("</div>");
    }
    fputs("</main>\n</body>\n</html>\n", f);
    fclose(f);
    free(body);
    return buf;
}
