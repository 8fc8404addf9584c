#include "proxy/conns.h"

#include "proxy/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct conn_node {
	evhtp_connection_t *conn;
	struct conn_set *set;
	LIST_ENTRY(conn_node) link;
};

void conn_set_init(struct conn_set *s, int max, const char *what)
{
	LIST_INIT(&s->all);
	s->n = 0;
	s->max = max;
	s->what = what;
	s->on_empty = NULL;
	s->on_empty_arg = NULL;
}

static evhtp_res on_fini(evhtp_connection_t *conn, void *arg)
{
	struct conn_node *node = arg;
	struct conn_set *s = node->set;

	(void)conn;
	s->n--;
	LIST_REMOVE(node, link);
	free(node);
	if (s->n == 0 && s->on_empty)
		s->on_empty(s->on_empty_arg);
	return EVHTP_RES_OK;
}

int conn_peer_text(evhtp_connection_t *conn, char *buf, size_t len)
{
	const struct sockaddr *sa = conn ? conn->saddr : NULL;
	const void *addr = NULL;

	if (sa && sa->sa_family == AF_INET)
		addr = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		addr = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (addr && inet_ntop(sa->sa_family, addr, buf, (socklen_t)len))
		return 0;
	if (len > 0)
		buf[0] = '\0';
	return -1;
}

evhtp_res conn_set_on_accept(evhtp_connection_t *conn, void *arg)
{
	struct conn_set *s = arg;
	struct conn_node *node;
	evutil_socket_t fd;
	int one = 1;

	if (s->max > 0 && s->n >= s->max) {
		s->refused++;
		log_warn("refusing a %s connection: %d open (max_connections)", s->what, s->n);
		return EVHTP_RES_ERROR;
	}
	node = calloc(1, sizeof(*node));
	if (!node)
		return EVHTP_RES_ERROR;
	/* Headers and body leave in separate writes (the body by sendfile):
	 * without TCP_NODELAY, Nagle holds the body back until the client's
	 * delayed ACK, 40 ms per small response. */
	fd = bufferevent_getfd(evhtp_connection_get_bev(conn));
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	node->conn = conn;
	node->set = s;
	LIST_INSERT_HEAD(&s->all, node, link);
	s->n++;
	evhtp_connection_set_hook(conn, evhtp_hook_on_connection_fini, (evhtp_hook)on_fini, node);
	return EVHTP_RES_OK;
}

void conn_set_close_all(struct conn_set *s)
{
	/* Each free runs on_fini, which unlinks the head. */
	while (!LIST_EMPTY(&s->all))
		evhtp_connection_free(LIST_FIRST(&s->all)->conn);
}

void conn_set_close_idle(struct conn_set *s)
{
	struct conn_node *node, *next;

	for (node = LIST_FIRST(&s->all); node; node = next) {
		next = LIST_NEXT(node, link);
		/* libevhtp frees a keep-alive request when its response has
		 * gone out, and makes the next one when its first byte comes:
		 * no request means nothing under way. */
		if (!node->conn->request)
			evhtp_connection_free(node->conn);
		else
			evhtp_request_disable_flag(node->conn->request, EVHTP_REQ_FLAG_KEEPALIVE);
	}
}

int conn_listener_port(evhtp_t *htp)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = evconnlistener_get_fd(htp->server);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int conn_listener_bind(evhtp_t *htp, const char *host, int port, char *err, size_t errlen)
{
	char addr[300];

	/* libevhtp takes "ipv6:" for IPv6 literals; "" is every address. */
	if (!host[0])
		snprintf(addr, sizeof(addr), "0.0.0.0");
	else if (strchr(host, ':'))
		snprintf(addr, sizeof(addr), "ipv6:%s", host);
	else
		snprintf(addr, sizeof(addr), "%s", host);
	if (evhtp_bind_socket(htp, addr, (uint16_t)port, 1024) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
		return -1;
	}
	return 0;
}
