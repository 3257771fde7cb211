/*
 * libfido2 as a second real client of the virtual key.
 *
 * Drives the key through libfido2's own CTAPHID and CTAP2 code, with the
 * HID reports carried over the virtual key's socket (boards/host/transport.py:
 * bare 64-byte reports both ways) via fido_dev_set_io_functions. libfido2
 * hands the write callback 65 bytes (report id 0 first) and asks the read
 * callback for 64.
 *
 * Usage: libfido2-harness SOCKET COMMAND [ARGS...]
 *   info                           authenticatorGetInfo as libfido2 parses it
 *   make RP USER_HEX rk|plain [--pin PIN] [--exclude ID_HEX]
 *                                  makeCredential (ES256); verifies the
 *                                  attestation with fido_cred_verify[_self]
 *   assert RP [--pin PIN] [--allow ID_HEX]... [--cred ID_HEX:PK_HEX]...
 *                                  getAssertion (+ getNextAssertion); each
 *                                  assertion is checked with fido_assert_verify
 *                                  against the --cred public key of its ID
 *   reset                          authenticatorReset
 *
 * PIN, credential management, config and U2F through libfido2 are tested
 * with the ctypes binding in host_tests/libfido2.py.
 *
 * Output: one "name=value" line per fact (bytes as lowercase hex), for the
 * tests in host_tests/test_libfido2.py to read. On a libfido2 error:
 * "error=<name> code=<n>" and exit status 2.
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fido.h>
#include <fido/es256.h>

#define REPORT 64

/* -- the socket transport ------------------------------------------------ */

struct conn {
	int fd;
};

static void *
io_open(const char *path)
{
	struct sockaddr_un sa;
	struct conn *c;

	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (c->fd >= 0)
			close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static void
io_close(void *h)
{
	struct conn *c = h;

	close(c->fd);
	free(c);
}

/* One whole report, or -1 on timeout (ms < 0: wait forever) or error. */
static int
io_read(void *h, unsigned char *buf, size_t len, int ms)
{
	struct conn *c = h;
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	size_t got = 0;
	ssize_t n;

	if (len != REPORT)
		return -1;
	if (poll(&p, 1, ms) != 1)
		return -1;
	while (got < len) {
		n = recv(c->fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return (int)got;
}

static int
io_write(void *h, const unsigned char *buf, size_t len)
{
	struct conn *c = h;
	size_t sent = 0;
	ssize_t n;

	/* buf[0] is the report id (0): the wire carries the 64 bytes after it. */
	if (len != REPORT + 1)
		return -1;
	while (sent < REPORT) {
		n = send(c->fd, buf + 1 + sent, REPORT - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		sent += (size_t)n;
	}
	return (int)len;
}

/* -- helpers --------------------------------------------------------------- */

static void
die(const char *what, int r)
{
	printf("error=%s code=%d\n", fido_strerr(r), r);
	fprintf(stderr, "%s: %s (%d)\n", what, fido_strerr(r), r);
	exit(2);
}

static void
usage(void)
{
	fprintf(stderr, "usage: libfido2-harness SOCKET info|make|assert|reset ...\n");
	exit(1);
}

static void
print_hex(const char *name, const unsigned char *p, size_t n)
{
	printf("%s=", name);
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* Decode hex into a new buffer; exits on malformed input. */
static unsigned char *
from_hex(const char *s, size_t *n)
{
	size_t len = strlen(s);
	unsigned char *out;

	if (len % 2 || (out = malloc(len / 2 + 1)) == NULL) {
		fprintf(stderr, "bad hex: %s\n", s);
		exit(1);
	}
	for (size_t i = 0; i < len / 2; i++) {
		unsigned int b;
		if (sscanf(s + 2 * i, "%2x", &b) != 1) {
			fprintf(stderr, "bad hex: %s\n", s);
			exit(1);
		}
		out[i] = (unsigned char)b;
	}
	*n = len / 2;
	return out;
}

static void
random_bytes(unsigned char *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY);

	if (fd < 0 || read(fd, p, n) != (ssize_t)n) {
		perror("/dev/urandom");
		exit(1);
	}
	close(fd);
}

static const char *
opt_arg(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* -- commands -------------------------------------------------------------- */

static int
cmd_info(fido_dev_t *dev)
{
	fido_cbor_info_t *ci = fido_cbor_info_new();
	int r;

	printf("ctaphid.protocol=%u\n", fido_dev_protocol(dev));
	printf("ctaphid.version=%u.%u.%u\n", fido_dev_major(dev), fido_dev_minor(dev), fido_dev_build(dev));
	printf("ctaphid.flags=%u\n", fido_dev_flags(dev));
	printf("is_fido2=%d\n", fido_dev_is_fido2(dev));
	printf("supports_pin=%d\nhas_pin=%d\n", fido_dev_supports_pin(dev), fido_dev_has_pin(dev));
	printf("supports_credman=%d\n", fido_dev_supports_credman(dev));
	if (!fido_dev_is_fido2(dev))
		return 0;
	if ((r = fido_dev_get_cbor_info(dev, ci)) != FIDO_OK)
		die("fido_dev_get_cbor_info", r);
	char **v = fido_cbor_info_versions_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_versions_len(ci); i++)
		printf("version=%s\n", v[i]);
	v = fido_cbor_info_extensions_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_extensions_len(ci); i++)
		printf("extension=%s\n", v[i]);
	v = fido_cbor_info_transports_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_transports_len(ci); i++)
		printf("transport=%s\n", v[i]);
	print_hex("aaguid", fido_cbor_info_aaguid_ptr(ci), fido_cbor_info_aaguid_len(ci));
	char **on = fido_cbor_info_options_name_ptr(ci);
	const bool *ov = fido_cbor_info_options_value_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_options_len(ci); i++)
		printf("option.%s=%d\n", on[i], ov[i]);
	const uint8_t *pr = fido_cbor_info_protocols_ptr(ci);
	for (size_t i = 0; i < fido_cbor_info_protocols_len(ci); i++)
		printf("pin_protocol=%u\n", pr[i]);
	for (size_t i = 0; i < fido_cbor_info_algorithm_count(ci); i++)
		printf("algorithm=%s:%d\n", fido_cbor_info_algorithm_type(ci, i), fido_cbor_info_algorithm_cose(ci, i));
	printf("maxmsgsiz=%llu\n", (unsigned long long)fido_cbor_info_maxmsgsiz(ci));
	printf("maxcredcntlst=%llu\n", (unsigned long long)fido_cbor_info_maxcredcntlst(ci));
	printf("maxcredidlen=%llu\n", (unsigned long long)fido_cbor_info_maxcredidlen(ci));
	printf("fwversion=%llu\n", (unsigned long long)fido_cbor_info_fwversion(ci));
	printf("rk_remaining=%lld\n", (long long)fido_cbor_info_rk_remaining(ci));
	printf("minpinlen=%llu\n", (unsigned long long)fido_cbor_info_minpinlen(ci));
	fido_cbor_info_free(&ci);
	return 0;
}

static int
cmd_make(fido_dev_t *dev, int argc, char **argv)
{
	fido_cred_t *cred = fido_cred_new();
	unsigned char cdh[32];
	unsigned char *user, *ex;
	size_t user_len, ex_len;
	const char *pin, *exclude;
	int r, rk;

	if (argc < 3)
		usage();
	rk = strcmp(argv[2], "rk") == 0;
	user = from_hex(argv[1], &user_len);
	pin = opt_arg(argc, argv, "--pin");
	exclude = opt_arg(argc, argv, "--exclude");
	random_bytes(cdh, sizeof(cdh));
	if ((r = fido_cred_set_type(cred, COSE_ES256)) != FIDO_OK ||
	    (r = fido_cred_set_clientdata_hash(cred, cdh, sizeof(cdh))) != FIDO_OK ||
	    (r = fido_cred_set_rp(cred, argv[0], "Relying Party")) != FIDO_OK ||
	    (r = fido_cred_set_user(cred, user, user_len, "user", "A User", NULL)) != FIDO_OK ||
	    (r = fido_cred_set_rk(cred, rk ? FIDO_OPT_TRUE : FIDO_OPT_OMIT)) != FIDO_OK)
		die("fido_cred_set_*", r);
	if (exclude != NULL) {
		ex = from_hex(exclude, &ex_len);
		if ((r = fido_cred_exclude(cred, ex, ex_len)) != FIDO_OK)
			die("fido_cred_exclude", r);
		free(ex);
	}
	if ((r = fido_dev_make_cred(dev, cred, pin)) != FIDO_OK)
		die("fido_dev_make_cred", r);
	printf("fmt=%s\n", fido_cred_fmt(cred));
	print_hex("id", fido_cred_id_ptr(cred), fido_cred_id_len(cred));
	print_hex("pubkey", fido_cred_pubkey_ptr(cred), fido_cred_pubkey_len(cred));
	print_hex("aaguid", fido_cred_aaguid_ptr(cred), fido_cred_aaguid_len(cred));
	printf("flags=%u\nsigcount=%u\n", fido_cred_flags(cred), fido_cred_sigcount(cred));
	printf("x5c_len=%zu\n", fido_cred_x5c_len(cred));
	/* packed with x5c: fido_cred_verify; self attestation: fido_cred_verify_self */
	if (fido_cred_x5c_len(cred) > 0)
		r = fido_cred_verify(cred);
	else
		r = fido_cred_verify_self(cred);
	printf("attestation_verify=%s\n", r == FIDO_OK ? "ok" : fido_strerr(r));
	fido_cred_free(&cred);
	free(user);
	return r == FIDO_OK ? 0 : 3;
}

static int
cmd_assert(fido_dev_t *dev, int argc, char **argv)
{
	fido_assert_t *as = fido_assert_new();
	unsigned char cdh[32];
	const char *pin = opt_arg(argc, argv, "--pin");
	int r, bad = 0;

	if (argc < 1)
		usage();
	random_bytes(cdh, sizeof(cdh));
	if ((r = fido_assert_set_rp(as, argv[0])) != FIDO_OK ||
	    (r = fido_assert_set_clientdata_hash(as, cdh, sizeof(cdh))) != FIDO_OK)
		die("fido_assert_set_*", r);
	for (int i = 1; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--allow") == 0) {
			size_t n;
			unsigned char *id = from_hex(argv[i + 1], &n);
			if ((r = fido_assert_allow_cred(as, id, n)) != FIDO_OK)
				die("fido_assert_allow_cred", r);
			free(id);
		}
	}
	if ((r = fido_dev_get_assert(dev, as, pin)) != FIDO_OK)
		die("fido_dev_get_assert", r);
	printf("count=%zu\n", fido_assert_count(as));
	for (size_t k = 0; k < fido_assert_count(as); k++) {
		char name[64];
		const char *verdict = "nokey";

		snprintf(name, sizeof(name), "assertion.%zu.id", k);
		print_hex(name, fido_assert_id_ptr(as, k), fido_assert_id_len(as, k));
		snprintf(name, sizeof(name), "assertion.%zu.user_id", k);
		print_hex(name, fido_assert_user_id_ptr(as, k), fido_assert_user_id_len(as, k));
		printf("assertion.%zu.sigcount=%u\n", k, fido_assert_sigcount(as, k));
		printf("assertion.%zu.flags=%u\n", k, fido_assert_flags(as, k));
		for (int i = 1; i + 1 < argc; i++) {
			const char *colon;
			size_t id_len, pk_len;
			unsigned char *id, *pk;
			es256_pk_t *key;

			if (strcmp(argv[i], "--cred") != 0 || (colon = strchr(argv[i + 1], ':')) == NULL)
				continue;
			char *idhex = strndup(argv[i + 1], (size_t)(colon - argv[i + 1]));
			id = from_hex(idhex, &id_len);
			free(idhex);
			if (id_len != fido_assert_id_len(as, k) ||
			    memcmp(id, fido_assert_id_ptr(as, k), id_len) != 0) {
				free(id);
				continue;
			}
			pk = from_hex(colon + 1, &pk_len);
			key = es256_pk_new();
			if (es256_pk_from_ptr(key, pk, pk_len) != FIDO_OK)
				die("es256_pk_from_ptr", FIDO_ERR_INVALID_ARGUMENT);
			r = fido_assert_verify(as, k, COSE_ES256, key);
			verdict = r == FIDO_OK ? "ok" : fido_strerr(r);
			if (r != FIDO_OK)
				bad = 1;
			es256_pk_free(&key);
			free(pk);
			free(id);
		}
		printf("assertion.%zu.verify=%s\n", k, verdict);
	}
	fido_assert_free(&as);
	return bad ? 3 : 0;
}

int
main(int argc, char **argv)
{
	fido_dev_io_t io = { io_open, io_close, io_read, io_write };
	fido_dev_t *dev;
	const char *path, *cmd;
	int r, rc = 0;

	if (argc < 3)
		usage();
	path = argv[1];
	cmd = argv[2];
	argv += 3;
	argc -= 3;

	fido_init(getenv("FIDO_DEBUG") ? FIDO_DEBUG : 0);
	if ((dev = fido_dev_new()) == NULL)
		die("fido_dev_new", FIDO_ERR_INTERNAL);
	if ((r = fido_dev_set_io_functions(dev, &io)) != FIDO_OK)
		die("fido_dev_set_io_functions", r);
	if ((r = fido_dev_set_timeout(dev, 30000)) != FIDO_OK)
		die("fido_dev_set_timeout", r);
	if ((r = fido_dev_open(dev, path)) != FIDO_OK)
		die("fido_dev_open", r);

	if (strcmp(cmd, "info") == 0)
		rc = cmd_info(dev);
	else if (strcmp(cmd, "make") == 0)
		rc = cmd_make(dev, argc, argv);
	else if (strcmp(cmd, "assert") == 0)
		rc = cmd_assert(dev, argc, argv);
	else if (strcmp(cmd, "reset") == 0) {
		if ((r = fido_dev_reset(dev)) != FIDO_OK)
			die("fido_dev_reset", r);
	} else
		usage();

	fido_dev_close(dev);
	fido_dev_free(&dev);
	return rc;
}
