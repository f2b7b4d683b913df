/* dav/xml.c — multistatus answers with libxml2 (xml.h). Elements are
 * matched by namespace and local name, never by prefix. */
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "dav/xml.h"
#include "base/banned.h"

#define NS_DAV    "DAV:"
#define NS_CALDAV "urn:ietf:params:xml:ns:caldav"
#define NS_CS     "http://calendarserver.org/ns/"

static bool has(const char *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++)
        if (p[i] == needle[0] && memcmp(p + i, needle, k) == 0)
            return true;
    return false;
}

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 &&
           strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

/* The element's text, trimmed, in arena; NULL for none. */
static const char *text(const xmlNode *n, struct bk_arena *arena)
{
    xmlChar *t;
    const char *s, *e;
    char *out;

    if (!n)
        return NULL;
    t = xmlNodeGetContent(n);
    if (!t)
        return NULL;
    s = (const char *)t;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    out = bk_arena_alloc(arena, (size_t)(e - s) + 1);
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    xmlFree(t);
    return out;
}

/* "HTTP/1.1 200 OK" -> 200; 0 when unreadable. */
static int status_code(const char *s)
{
    const char *sp = s ? strchr(s, ' ') : NULL;
    int code = 0;

    if (!sp)
        return 0;
    for (int i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9')
            return 0;
        code = code * 10 + (sp[i] - '0');
    }
    return code;
}

static void read_prop(const xmlNode *prop, struct bk_arena *arena,
                      struct bk_dav_response *r)
{
    for (const xmlNode *p = prop->children; p; p = p->next) {
        if (p->type != XML_ELEMENT_NODE)
            continue;
        if (is(p, NS_DAV, "displayname")) {
            r->displayname = text(p, arena);
        } else if (is(p, NS_DAV, "getetag")) {
            r->etag = text(p, arena);
        } else if (is(p, NS_DAV, "sync-token")) {
            r->sync_token = text(p, arena);
        } else if (is(p, NS_CS, "getctag")) {
            r->ctag = text(p, arena);
        } else if (is(p, NS_DAV, "current-user-principal")) {
            r->principal_href = text(child(p, NS_DAV, "href"), arena);
        } else if (is(p, NS_CALDAV, "calendar-home-set")) {
            r->home_href = text(child(p, NS_DAV, "href"), arena);
        } else if (is(p, NS_CALDAV, "calendar-data")) {
            r->calendar_data = text(p, arena);
        } else if (is(p, NS_DAV, "resourcetype")) {
            r->is_collection = child(p, NS_DAV, "collection") != NULL;
            r->is_calendar = child(p, NS_CALDAV, "calendar") != NULL;
        } else if (is(p, NS_CALDAV, "supported-calendar-component-set")) {
            r->has_comp_set = true;
            for (const xmlNode *c = p->children; c; c = c->next) {
                xmlChar *name;
                if (!is(c, NS_CALDAV, "comp"))
                    continue;
                name = xmlGetProp(c, (const xmlChar *)"name");
                if (name && strcasecmp((const char *)name, "VEVENT") == 0)
                    r->vevent = true;
                xmlFree(name);
            }
        }
    }
}

enum bk_err bk_dav_parse_multistatus(const char *body, size_t len,
                                     struct bk_arena *arena,
                                     struct bk_dav_multistatus *out,
                                     struct bk_errbuf *err)
{
    xmlDoc *doc = NULL;
    const xmlNode *root;
    size_t n = 0, i = 0;
    enum bk_err e = BK_OK;

    memset(out, 0, sizeof(*out));
    if (!body || len == 0 || len > (size_t)0x7fffffff)
        return bk_fail(err, BK_E_MALFORMED, "an empty answer, not XML");
    if (has(body, len, "<!DOCTYPE") || has(body, len, "<!ENTITY"))
        return bk_fail(err, BK_E_MALFORMED,
                       "the XML has a document type declaration (refused)");
    doc = xmlReadMemory(body, (int)len, "dav.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                            XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
    if (!doc)
        return bk_fail(err, BK_E_MALFORMED,
                       "the answer is not well-formed "
                       "XML");
    root = xmlDocGetRootElement(doc);
    if (!is(root, NS_DAV, "multistatus")) {
        e = bk_fail(err, BK_E_MALFORMED, "the answer is not a DAV:multistatus");
        goto out;
    }
    for (const xmlNode *c = root->children; c; c = c->next)
        if (is(c, NS_DAV, "response"))
            n++;
    if (n > BK_DAV_MAX_RESPONSES) {
        e = bk_fail(err, BK_E_TOO_LARGE,
                    "the answer lists more than %d resources",
                    BK_DAV_MAX_RESPONSES);
        goto out;
    }
    out->responses =
        bk_arena_alloc(arena, (n ? n : 1) * sizeof(*out->responses));
    memset(out->responses, 0, (n ? n : 1) * sizeof(*out->responses));
    for (const xmlNode *c = root->children; c; c = c->next) {
        struct bk_dav_response *r;
        if (is(c, NS_DAV, "sync-token")) {
            out->sync_token = text(c, arena);
            continue;
        }
        if (!is(c, NS_DAV, "response"))
            continue;
        r = &out->responses[i++];
        r->href = text(child(c, NS_DAV, "href"), arena);
        r->status = status_code(text(child(c, NS_DAV, "status"), arena));
        for (const xmlNode *ps = c->children; ps; ps = ps->next) {
            int st;
            if (!is(ps, NS_DAV, "propstat"))
                continue;
            st = status_code(text(child(ps, NS_DAV, "status"), arena));
            if (st >= 200 && st < 300 && child(ps, NS_DAV, "prop"))
                read_prop(child(ps, NS_DAV, "prop"), arena, r);
        }
        if (!r->href) {
            e = bk_fail(err, BK_E_MALFORMED, "a response without an href");
            goto out;
        }
    }
    out->n = i;
out:
    xmlFreeDoc(doc);
    return e;
}
