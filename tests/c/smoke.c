/*
 * The C smoke test of logpack's C ABI (include/logpack.h), built and run by
 * tests/c_smoke.rs against the static library with
 *   cc -std=c11 -Wall -Wextra -Werror -pedantic -I include
 * and, under CI, also with -fsanitize=address,undefined.
 *
 * It drives every exported function: versions, result names, NULL
 * arguments, bad requests and options, job states, a run to a path (OK and
 * PARTIAL), progress, cancellation from the progress callback, from a token
 * on another thread and before the run, a failing writer, streamed zstd and
 * gzip, base directories and non-UTF-8 paths; then the job store: NULL
 * arguments and options, the lifecycle of a job on examples/sample (create,
 * wait, get, list, download, extend, retry, delete) with its refusals and
 * their Ops Manager codes, a retry of a FAILURE job, free waiting for the
 * runs, and the limit of jobs in progress; then live capture: NULL
 * arguments and bad values, a 2 s capture of lines appended by another
 * thread (valid ndjson records, writes on the calling thread only), a
 * capture until cancelled from another thread, a failing writer, and the
 * limit of 3 captures (BUSY). Each section prints
 * "ok <name>"; the first failed check prints "FAIL ..." and exits 1.
 *
 * The deployments are built here, in a mkdtemp() directory that is removed
 * at the end (set LOGPACK_SMOKE_KEEP=1 to keep it).
 */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "logpack.h"

/* ---------------------------------------------------------------- checks */

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

_Noreturn static void fail(const char *file, int line, const char *fmt, ...) PRINTF_LIKE(3, 4);
_Noreturn static void fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "FAIL %s:%d: ", file, line);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) fail(__FILE__, __LINE__, __VA_ARGS__);                                            \
  } while (0)

/* Evaluates `call` once and compares its logpack_result with `want`. */
#define EXPECT_RC(call, want)                                                                      \
  do {                                                                                             \
    logpack_result got_ = (call);                                                                  \
    logpack_result want_ = (want);                                                                 \
    if (got_ != want_)                                                                             \
      fail(__FILE__, __LINE__, "%s returned %s (%d), expected %s", #call,                          \
           logpack_result_name(got_), (int)got_, logpack_result_name(want_));                     \
  } while (0)

/* snprintf that fails the test instead of truncating. */
static void format_into(char *buf, size_t cap, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void format_into(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  CHECK(n >= 0 && (size_t)n < cap, "%d bytes do not fit in %zu", n, cap);
}

static void ok(const char *name) {
  printf("ok %s\n", name);
  fflush(stdout);
}

/* --------------------------------------------------------- file helpers */

static char root[512];     /* the mkdtemp() directory */
static pthread_t main_thread;

static char *path_of(const char *rel) {
  static char bufs[8][1024];
  static int next;
  char *b = bufs[next++ % 8];
  int n = snprintf(b, sizeof bufs[0], "%s/%s", root, rel);
  CHECK(n > 0 && (size_t)n < sizeof bufs[0], "path too long: %s", rel);
  return b;
}

static void mkdirs(const char *path) {
  char tmp[1024];
  size_t n = strlen(path);
  CHECK(n < sizeof tmp, "path too long");
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char c = tmp[i];
      tmp[i] = '\0';
      CHECK(mkdir(tmp, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", tmp, strerror(errno));
      tmp[i] = c;
    }
  }
}

/* Writes `size` bytes of log-like text to `path`, creating its directory. */
static void write_log(const char *path, size_t size) {
  char dir[1024];
  format_into(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  CHECK(slash != NULL, "no directory in %s", path);
  *slash = '\0';
  mkdirs(dir);

  static char chunk[64 * 1024];
  static int filled;
  if (!filled) {
    const char *line = "2024-05-01T12:00:00.000+00:00 I  NETWORK  [conn1] a line of the smoke test\n";
    size_t len = strlen(line);
    for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = line[i % len];
    filled = 1;
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
  while (size > 0) {
    size_t n = size < sizeof chunk ? size : sizeof chunk;
    ssize_t w = write(fd, chunk, n);
    CHECK(w > 0, "write %s: %s", path, strerror(errno));
    size -= (size_t)w;
  }
  CHECK(close(fd) == 0, "close %s", path);
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Number of entries in a directory, "." and ".." excluded. */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  CHECK(d != NULL, "opendir %s: %s", dir, strerror(errno));
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  }
  closedir(d);
  return n;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------- job helpers */

static logpack_result set_request(logpack_job *job, const char *json) {
  return logpack_job_set_request(job, json, strlen(json));
}

static logpack_result run_to(logpack_job *job, const char *path) {
  return logpack_job_run_to_path(job, path, strlen(path));
}

/* The last error as a NUL-terminated string (static buffer). */
static const char *last_error(const logpack_job *job) {
  static char buf[4096];
  size_t n = 12345;
  EXPECT_RC(logpack_job_last_error(job, buf, sizeof buf - 1, &n), LOGPACK_RESULT_OK);
  CHECK(n < sizeof buf, "out_len %zu larger than the buffer", n);
  buf[n] = '\0';
  return buf;
}

/* The manifest JSON (borrowed from the job). */
static const char *manifest(const logpack_job *job) {
  const char *json = NULL;
  size_t len = 0;
  EXPECT_RC(logpack_job_manifest(job, &json, &len), LOGPACK_RESULT_OK);
  CHECK(json != NULL && len > 0, "empty manifest");
  CHECK(json[len] == '\0', "the manifest is not followed by a NUL");
  CHECK(strlen(json) == len, "the manifest length %zu disagrees with strlen", len);
  CHECK(json[0] == '{' && json[len - 1] == '}', "the manifest is not a JSON object");
  return json;
}

/* A request for one mongod whose logPath is `log_path`. */
static const char *request_for(const char *log_path) {
  static char json[2048];
  CHECK(strchr(log_path, '"') == NULL && strchr(log_path, '\\') == NULL,
        "path needs JSON escaping: %s", log_path);
  int n = snprintf(json, sizeof json,
                   "{\"resourceName\":\"smoke\",\"hosts\":[{\"hostname\":\"db1.example.net\","
                   "\"processes\":[{\"type\":\"mongod\",\"port\":27017,\"logPath\":\"%s\"}]}]}",
                   log_path);
  CHECK(n > 0 && (size_t)n < sizeof json, "request too long");
  return json;
}

/* A fresh job for `log_path` with `threads` threads. */
static logpack_job *job_for(const char *log_path, int64_t threads) {
  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  EXPECT_RC(set_request(job, request_for(log_path)), LOGPACK_RESULT_OK);
  if (threads > 0) EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, threads), LOGPACK_RESULT_OK);
  return job;
}

/* ------------------------------------------------------------- sections */

_Static_assert(LOGPACK_VERSION_NUMBER ==
                   LOGPACK_VERSION_MAJOR * 10000 + LOGPACK_VERSION_MINOR * 100 + LOGPACK_VERSION_PATCH,
               "LOGPACK_VERSION_NUMBER arithmetic");
_Static_assert(LOGPACK_RESULT_OK == 0 && LOGPACK_RESULT_PARTIAL == 1 &&
                   LOGPACK_RESULT_NULL_PARAMETER == 100 && LOGPACK_RESULT_INVALID_REQUEST == 101 &&
                   LOGPACK_RESULT_INVALID_OPTION == 102 && LOGPACK_RESULT_INVALID_STATE == 103 &&
                   LOGPACK_RESULT_IO == 200 && LOGPACK_RESULT_OUTPUT == 201 &&
                   LOGPACK_RESULT_CANCELLED == 300 && LOGPACK_RESULT_BUSY == 301 &&
                   LOGPACK_RESULT_NOT_FOUND == 302 && LOGPACK_RESULT_REFUSED == 303 &&
                   LOGPACK_RESULT_PANIC == 900,
               "result values are fixed");
_Static_assert(LOGPACK_OPTION_THREADS == 1 && LOGPACK_OPTION_FORMAT == 2 &&
                   LOGPACK_OPTION_COMPRESSION_LEVEL == 3,
               "option keys are fixed");
_Static_assert(LOGPACK_STORE_OPTION_THREADS == 1 && LOGPACK_STORE_OPTION_MAX_IN_PROGRESS == 2,
               "store option keys are fixed");

static void test_versions(void) {
  CHECK(logpack_version_number() == LOGPACK_VERSION_NUMBER, "library %u, header %d",
        logpack_version_number(), LOGPACK_VERSION_NUMBER);
  const char *v = logpack_version_string();
  CHECK(v != NULL && strcmp(v, LOGPACK_VERSION_STRING) == 0, "library \"%s\", header \"%s\"",
        v ? v : "(null)", LOGPACK_VERSION_STRING);
  char want[64];
  format_into(want, sizeof want, "%d.%d.%d", LOGPACK_VERSION_MAJOR, LOGPACK_VERSION_MINOR,
           LOGPACK_VERSION_PATCH);
  CHECK(strcmp(v, want) == 0, "version string \"%s\" is not MAJOR.MINOR.PATCH \"%s\"", v, want);
  CHECK(logpack_version_string() == v, "the version string is not static");
  ok("versions");
}

static void test_result_names(void) {
  static const struct {
    logpack_result r;
    const char *name;
  } names[] = {
#define NAME(x) {x, #x}
      NAME(LOGPACK_RESULT_OK),
      NAME(LOGPACK_RESULT_PARTIAL),
      NAME(LOGPACK_RESULT_NULL_PARAMETER),
      NAME(LOGPACK_RESULT_INVALID_REQUEST),
      NAME(LOGPACK_RESULT_INVALID_OPTION),
      NAME(LOGPACK_RESULT_INVALID_STATE),
      NAME(LOGPACK_RESULT_IO),
      NAME(LOGPACK_RESULT_OUTPUT),
      NAME(LOGPACK_RESULT_CANCELLED),
      NAME(LOGPACK_RESULT_BUSY),
      NAME(LOGPACK_RESULT_NOT_FOUND),
      NAME(LOGPACK_RESULT_REFUSED),
      NAME(LOGPACK_RESULT_PANIC),
#undef NAME
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    const char *got = logpack_result_name(names[i].r);
    CHECK(got != NULL && strcmp(got, names[i].name) == 0, "name of %d: \"%s\", expected \"%s\"",
          (int)names[i].r, got ? got : "(null)", names[i].name);
    CHECK(logpack_result_name(names[i].r) == got, "the name of %s is not static", got);
  }
  /* Both spellings of the types work. */
  enum logpack_result tagged = LOGPACK_RESULT_OK;
  logpack_result typed = tagged;
  CHECK(typed == LOGPACK_RESULT_OK, "enum spelling");
  ok("result_names");
}

static void test_nulls(void) {
  const char *json = request_for("/nonexistent/mongod.log");
  size_t len = strlen(json);
  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");

  /* _free(NULL) are no-ops. */
  logpack_job_free(NULL);
  logpack_cancel_token_free(NULL);

  EXPECT_RC(logpack_job_set_request(NULL, json, len), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_set_request(job, NULL, len), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_set_request(job, NULL, 0), LOGPACK_RESULT_NULL_PARAMETER);

  EXPECT_RC(logpack_job_set_base_dir(NULL, root, strlen(root)), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_set_base_dir(job, NULL, 10), LOGPACK_RESULT_NULL_PARAMETER);

  EXPECT_RC(logpack_job_set_option(NULL, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_NULL_PARAMETER);

  EXPECT_RC(logpack_job_set_progress(NULL, NULL, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  /* A NULL callback on a real job removes it: not an error. */
  EXPECT_RC(logpack_job_set_progress(job, NULL, NULL), LOGPACK_RESULT_OK);

  const char *out = path_of("null-out.tar.gz");
  EXPECT_RC(logpack_job_run_to_path(NULL, out, strlen(out)), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_run_to_path(job, NULL, 5), LOGPACK_RESULT_NULL_PARAMETER);

  int dummy = 0;
  EXPECT_RC(logpack_job_run_to_writer(NULL, NULL, &dummy), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_run_to_writer(job, NULL, &dummy), LOGPACK_RESULT_NULL_PARAMETER);

  const char *mj = "untouched";
  size_t ml = 777;
  EXPECT_RC(logpack_job_manifest(NULL, &mj, &ml), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_manifest(job, NULL, &ml), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_manifest(job, &mj, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  CHECK(strcmp(mj, "untouched") == 0 && ml == 777, "outputs written on failure");

  char buf[16];
  size_t n = 777;
  EXPECT_RC(logpack_job_last_error(NULL, buf, sizeof buf, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_last_error(job, buf, sizeof buf, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_job_last_error(job, NULL, 5, &n), LOGPACK_RESULT_NULL_PARAMETER);
  CHECK(n == 777, "out_len written on failure");
  /* NULL with a capacity of 0 is allowed. */
  EXPECT_RC(logpack_job_last_error(job, NULL, 0, &n), LOGPACK_RESULT_OK);
  CHECK(n == 0, "out_len %zu with cap 0", n);

  CHECK(logpack_job_cancel_token(NULL) == NULL, "a token for a NULL job");
  EXPECT_RC(logpack_cancel_token_cancel(NULL), LOGPACK_RESULT_NULL_PARAMETER);

  /* None of the NULL calls touched the job: it still runs (and the request
   * names a missing file, so the run is PARTIAL). */
  EXPECT_RC(logpack_job_set_request(job, json, len), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_PARTIAL);
  CHECK(exists(out), "no archive at %s", out);
  logpack_job_free(job);
  ok("null_parameters");
}

static void test_bad_request(void) {
  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");

  /* No error yet. */
  CHECK(strcmp(last_error(job), "") == 0, "an error before any call: %s", last_error(job));

  EXPECT_RC(set_request(job, "{\"hosts\":[{\"agentLogDir\":\"x\"}]}"),
            LOGPACK_RESULT_INVALID_REQUEST);
  char full[4096];
  format_into(full, sizeof full, "%s", last_error(job));
  CHECK(strstr(full, "hosts[0].hostname") != NULL, "the error does not name the field: %s", full);

  /* A too-small buffer: exactly `cap` bytes are copied, nothing beyond. */
  char small[16];
  memset(small, 0x5a, sizeof small);
  size_t n = 0;
  EXPECT_RC(logpack_job_last_error(job, small, 8, &n), LOGPACK_RESULT_OK);
  CHECK(n == 8, "copied %zu bytes into a buffer of 8", n);
  CHECK(memcmp(small, full, 8) == 0, "the truncated message is not a prefix");
  for (size_t i = 8; i < sizeof small; i++) CHECK(small[i] == 0x5a, "byte %zu written past cap", i);

  /* Other malformed requests. */
  EXPECT_RC(set_request(job, "{\"hosts\": ["), LOGPACK_RESULT_INVALID_REQUEST);
  CHECK(last_error(job)[0] != '\0', "no message for malformed JSON");
  EXPECT_RC(set_request(job, "{\"hosts\":[{\"hostname\":\"h\",\"agentLogDir\":\"x\"}],\"bogus\":1}"),
            LOGPACK_RESULT_INVALID_REQUEST);
  CHECK(strstr(last_error(job), "bogus") != NULL, "unknown field not named: %s", last_error(job));
  const char not_utf8[] = "{\"hosts\":[{\"hostname\":\"h\xff\",\"agentLogDir\":\"x\"}]}";
  EXPECT_RC(logpack_job_set_request(job, not_utf8, sizeof not_utf8 - 1),
            LOGPACK_RESULT_INVALID_REQUEST);
  EXPECT_RC(logpack_job_set_request(job, "", 0), LOGPACK_RESULT_INVALID_REQUEST);

  /* The request is pointer plus length, never read up to a NUL: trailing
   * garbage after `len` is ignored. */
  const char *good = request_for("/nonexistent/mongod.log");
  char padded[2048];
  size_t glen = strlen(good);
  memcpy(padded, good, glen);
  memcpy(padded + glen, "garbage}}}", 11);
  EXPECT_RC(logpack_job_set_request(job, padded, glen), LOGPACK_RESULT_OK);

  /* A run after the failed requests uses the good one. */
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  const char *out = path_of("bad-request-then-good.tar.gz");
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_PARTIAL);
  logpack_job_free(job);
  ok("bad_request");
}

static void test_invalid_option(void) {
  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  EXPECT_RC(logpack_job_set_option(job, (logpack_option)99, 1), LOGPACK_RESULT_INVALID_OPTION);
  CHECK(strstr(last_error(job), "99") != NULL, "the error does not name the key: %s",
        last_error(job));
  EXPECT_RC(logpack_job_set_option(job, (logpack_option)0, 1), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 0), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, -1), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1025), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, INT64_MAX),
            LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_FORMAT, 3), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_FORMAT, -1), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_COMPRESSION_LEVEL, 23),
            LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_COMPRESSION_LEVEL, INT64_MIN),
            LOGPACK_RESULT_INVALID_OPTION);
  CHECK(last_error(job)[0] != '\0', "no message for a bad level");
  logpack_job_free(job);

  /* A level that only the format can judge (gzip 15) fails when the job
   * runs, and leaves nothing behind. */
  const char *log = path_of("opt/mongod.log");
  write_log(log, 1000);
  job = job_for(log, 1);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_FORMAT, 0), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_COMPRESSION_LEVEL, 15), LOGPACK_RESULT_OK);
  const char *out = path_of("opt/level.tar.gz");
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_INVALID_OPTION);
  CHECK(!exists(out), "an archive at %s after INVALID_OPTION", out);
  CHECK(last_error(job)[0] != '\0', "no message for a bad level at run time");
  logpack_job_free(job);
  ok("invalid_option");
}

static void test_invalid_state(void) {
  const char *log = path_of("state/mongod.log");
  write_log(log, 4096);
  const char *out = path_of("state/out.tar.gz");

  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  /* No manifest before a run. */
  const char *mj = NULL;
  size_t ml = 0;
  EXPECT_RC(logpack_job_manifest(job, &mj, &ml), LOGPACK_RESULT_INVALID_STATE);
  /* A run without a request. */
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_INVALID_STATE);
  CHECK(strstr(last_error(job), "request") != NULL, "unhelpful error: %s", last_error(job));
  CHECK(!exists(out), "an archive after INVALID_STATE");
  /* ... which does not spoil the job. */
  EXPECT_RC(set_request(job, request_for(log)), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_OK);
  const char *first = manifest(job);

  /* One run per job: a second run, and any setter, is refused. */
  const char *out2 = path_of("state/second.tar.gz");
  EXPECT_RC(run_to(job, out2), LOGPACK_RESULT_INVALID_STATE);
  CHECK(!exists(out2), "a second run wrote %s", out2);
  int dummy = 0;
  EXPECT_RC(logpack_job_run_to_writer(job, (logpack_write_fn)NULL, &dummy),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(set_request(job, request_for(log)), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_job_set_base_dir(job, root, strlen(root)), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 2), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_job_set_progress(job, NULL, NULL), LOGPACK_RESULT_INVALID_STATE);
  /* The manifest of the first run is still there, at the same address. */
  CHECK(manifest(job) == first, "the manifest moved");
  logpack_job_free(job);
  ok("invalid_state");
}

static void test_run_to_path(void) {
  const char *log = path_of("ok/db/mongod.log");
  write_log(log, 256 * 1024 + 17);
  char rotated[1024];
  format_into(rotated, sizeof rotated, "%s.2024-05-01T00-00-00", log);
  write_log(rotated, 5000);
  const char *out = path_of("ok/out.tar.gz");

  logpack_job *job = job_for(log, 2);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_OK);
  CHECK(strcmp(last_error(job), "") == 0, "an error after OK: %s", last_error(job));
  const char *m = manifest(job);
  CHECK(strstr(m, "\"status\":\"SUCCESS\"") != NULL, "manifest: %s", m);
  CHECK(strstr(m, "FAILURE") == NULL, "manifest: %s", m);
  CHECK(strstr(m, "mongod.log") != NULL, "the log is not in the manifest: %s", m);

  struct stat st;
  CHECK(stat(out, &st) == 0, "no archive at %s", out);
  CHECK((st.st_mode & 07777) == 0600, "archive mode %o, expected 600", (unsigned)(st.st_mode & 07777));
  CHECK(st.st_size > 100, "archive of %lld bytes", (long long)st.st_size);
  unsigned char magic[2] = {0};
  FILE *f = fopen(out, "rb");
  CHECK(f != NULL && fread(magic, 1, 2, f) == 2, "read %s", out);
  fclose(f);
  CHECK(magic[0] == 0x1f && magic[1] == 0x8b, "not gzip: %02x %02x", magic[0], magic[1]);
  /* Nothing else was left in the directory (no temporary file). */
  CHECK(count_entries(path_of("ok")) == 2, "stray files in %s", path_of("ok"));
  logpack_job_free(job);

  /* An existing directory gets the default name. */
  const char *dir = path_of("ok/into-dir");
  mkdirs(dir);
  job = job_for(log, 1);
  EXPECT_RC(run_to(job, dir), LOGPACK_RESULT_OK);
  DIR *d = opendir(dir);
  CHECK(d != NULL, "opendir %s", dir);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 7 && strcmp(e->d_name + l - 7, ".tar.gz") == 0) found++;
    else CHECK(e->d_name[0] == '.' && (l <= 2), "stray file %s", e->d_name);
  }
  closedir(d);
  CHECK(found == 1, "%d archives in %s", found, dir);
  logpack_job_free(job);
  ok("run_to_path");
}

static void test_partial(void) {
  /* The logPath's directory does not exist: the component fails, the
   * archive is still written. */
  const char *log = path_of("partial/missing-dir/mongod.log");
  mkdirs(path_of("partial"));
  const char *out = path_of("partial/out.tar.gz");
  logpack_job *job = job_for(log, 1);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_PARTIAL);
  CHECK(exists(out), "no archive at %s after PARTIAL", out);
  const char *m = manifest(job);
  CHECK(strstr(m, "\"status\":\"FAILURE\"") != NULL, "manifest: %s", m);
  CHECK(strstr(m, "missing-dir") != NULL, "the manifest does not name the path: %s", m);
  CHECK(last_error(job)[0] != '\0', "PARTIAL without a message");
  logpack_job_free(job);
  ok("partial");
}

struct progress {
  uint64_t calls, last_done, last_total, first_total;
  int monotonic, off_thread, over_total;
  uint64_t cancel_after; /* return non-zero on this call (0: never) */
  _Atomic uint64_t done; /* last_done, for other threads */
};

static int on_progress(void *userdata, uint64_t done, uint64_t total) {
  struct progress *p = userdata;
  if (!pthread_equal(pthread_self(), main_thread)) p->off_thread++;
  if (p->calls == 0) p->first_total = total;
  if (p->calls > 0 && (done < p->last_done || total < p->last_total)) p->monotonic = 0;
  if (done > total) p->over_total++;
  p->calls++;
  p->last_done = done;
  p->last_total = total;
  atomic_store(&p->done, done);
  return p->cancel_after != 0 && p->calls >= p->cancel_after;
}

static void test_progress(void) {
  const char *log = path_of("progress/mongod.log");
  write_log(log, 4 * 1024 * 1024 + 123);
  const char *out = path_of("progress/out.tar.gz");
  logpack_job *job = job_for(log, 2);
  struct progress p = {0};
  p.monotonic = 1;
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &p), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_OK);
  CHECK(p.calls >= 2, "%llu progress calls", (unsigned long long)p.calls);
  CHECK(p.monotonic, "progress went backwards");
  CHECK(p.over_total == 0, "done > total in %d calls", p.over_total);
  CHECK(p.off_thread == 0, "%d progress calls off the calling thread", p.off_thread);
  CHECK(p.last_done == p.last_total, "last call: done %llu, total %llu",
        (unsigned long long)p.last_done, (unsigned long long)p.last_total);
  CHECK(p.last_total >= 4 * 1024 * 1024, "total %llu", (unsigned long long)p.last_total);
  logpack_job_free(job);

  /* Removing the callback (NULL) before the run: it is never called. */
  job = job_for(log, 1);
  struct progress q = {0};
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &q), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_progress(job, NULL, NULL), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, path_of("progress/none.tar.gz")), LOGPACK_RESULT_OK);
  CHECK(q.calls == 0, "a removed callback was called %llu times", (unsigned long long)q.calls);
  logpack_job_free(job);
  ok("progress");
}

static void test_cancel_from_progress(void) {
  const char *log = path_of("cancel-cb/logs/mongod.log");
  write_log(log, 4 * 1024 * 1024);
  const char *outdir = path_of("cancel-cb/out");
  mkdirs(outdir);
  const char *out = path_of("cancel-cb/out/out.tar.gz");
  logpack_job *job = job_for(log, 2);
  struct progress p = {0};
  p.monotonic = 1;
  p.cancel_after = 1;
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &p), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_CANCELLED);
  CHECK(p.calls >= 1, "the progress callback was never called");
  CHECK(!exists(out), "an archive at %s after CANCELLED", out);
  CHECK(count_entries(outdir) == 0, "files left in %s after CANCELLED", outdir);
  CHECK(last_error(job)[0] != '\0', "CANCELLED without a message");
  const char *mj = NULL;
  size_t ml = 0;
  EXPECT_RC(logpack_job_manifest(job, &mj, &ml), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_INVALID_STATE);
  logpack_job_free(job);
  ok("cancel_from_progress");
}

struct canceller {
  uint64_t cancel_at; /* bytes done */
  atomic_int run_over;
  logpack_cancel_token *token;
  struct progress *progress;
  double cancelled_at;
  logpack_result rc;
};

static void *cancel_thread(void *arg) {
  struct canceller *c = arg;
  /* Wait until the run is well under way, in the middle of the file. */
  double deadline = now_seconds() + 60;
  while (atomic_load(&c->progress->done) < c->cancel_at && !atomic_load(&c->run_over) &&
         now_seconds() < deadline) {
    struct timespec ms = {0, 1000 * 1000};
    nanosleep(&ms, NULL);
  }
  c->cancelled_at = now_seconds();
  c->rc = logpack_cancel_token_cancel(c->token);
  return NULL;
}

static void test_cancel_from_token(void) {
  /* One big file (about 200 MiB, written in 64 KiB blocks), so that the
   * cancel lands in the middle of it. */
  const uint64_t big = 200ull * 1024 * 1024;
  const char *log = path_of("cancel-token/logs/mongod.log");
  write_log(log, (size_t)big);
  const char *outdir = path_of("cancel-token/out");
  mkdirs(outdir);
  const char *out = path_of("cancel-token/out/out.tar.gz");

  logpack_job *job = job_for(log, 2);
  struct progress p = {0};
  p.monotonic = 1;
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &p), LOGPACK_RESULT_OK);
  struct canceller c = {0};
  c.token = logpack_job_cancel_token(job);
  CHECK(c.token != NULL, "logpack_job_cancel_token returned NULL");
  c.progress = &p;
  c.cancel_at = 16 * 1024 * 1024;
  pthread_t t;
  CHECK(pthread_create(&t, NULL, cancel_thread, &c) == 0, "pthread_create");
  double start = now_seconds();
  logpack_result rc = run_to(job, out);
  double returned = now_seconds();
  atomic_store(&c.run_over, 1);
  CHECK(pthread_join(t, NULL) == 0, "pthread_join");
  EXPECT_RC(c.rc, LOGPACK_RESULT_OK);
  EXPECT_RC(rc, LOGPACK_RESULT_CANCELLED);
  CHECK(c.cancelled_at > 0, "the token was never cancelled");
  double latency = returned - c.cancelled_at;
  CHECK(latency < 5.0, "the run returned %.2f s after the cancel", latency);
  CHECK(p.last_done >= c.cancel_at, "cancelled at %llu bytes, before %llu",
        (unsigned long long)p.last_done, (unsigned long long)c.cancel_at);
  CHECK(p.last_done < big, "the whole file was read before the cancel");
  CHECK(p.off_thread == 0, "%d progress calls off the calling thread", p.off_thread);
  CHECK(!exists(out), "an archive at %s after CANCELLED", out);
  CHECK(count_entries(outdir) == 0, "files left in %s after CANCELLED", outdir);
  printf("  cancel: run %.3f s, returned %.3f s after the cancel, %llu of %llu bytes\n",
         returned - start, latency, (unsigned long long)p.last_done, (unsigned long long)big);
  /* The token outlives the job. */
  logpack_job_free(job);
  EXPECT_RC(logpack_cancel_token_cancel(c.token), LOGPACK_RESULT_OK);
  logpack_cancel_token_free(c.token);
  CHECK(remove(log) == 0, "remove %s", log);
  ok("cancel_from_token");
}

static void test_cancel_before_run(void) {
  const char *log = path_of("cancel-before/logs/mongod.log");
  write_log(log, 1000);
  const char *outdir = path_of("cancel-before/out");
  mkdirs(outdir);
  const char *out = path_of("cancel-before/out/out.tar.gz");
  logpack_job *job = job_for(log, 1);
  logpack_cancel_token *a = logpack_job_cancel_token(job);
  logpack_cancel_token *b = logpack_job_cancel_token(job);
  CHECK(a != NULL && b != NULL && a != b, "tokens");
  EXPECT_RC(logpack_cancel_token_cancel(a), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_cancel_token_cancel(a), LOGPACK_RESULT_OK); /* idempotent */
  logpack_cancel_token_free(a);
  struct progress p = {0};
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &p), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_CANCELLED);
  CHECK(p.calls == 0, "progress called %llu times for a cancelled job",
        (unsigned long long)p.calls);
  CHECK(!exists(out), "an archive at %s after CANCELLED", out);
  CHECK(count_entries(outdir) == 0, "files left in %s after CANCELLED", outdir);
  logpack_job_free(job);
  EXPECT_RC(logpack_cancel_token_cancel(b), LOGPACK_RESULT_OK);
  logpack_cancel_token_free(b);
  ok("cancel_before_run");
}

struct sink {
  unsigned char *data;
  size_t len, cap;
  uint64_t calls, calls_after_failure;
  int off_thread;
  size_t fail_after; /* fail once this many bytes were accepted (0: never) */
  int failed;
};

static int on_write(void *userdata, const uint8_t *buf, size_t len) {
  struct sink *s = userdata;
  if (!pthread_equal(pthread_self(), main_thread)) s->off_thread++;
  s->calls++;
  if (s->failed) {
    s->calls_after_failure++;
    return 1;
  }
  if (s->fail_after != 0 && s->len + len > s->fail_after) {
    s->failed = 1;
    return 5;
  }
  if (len > 0 && buf == NULL) return 1;
  if (s->len + len > s->cap) {
    size_t cap = s->cap ? s->cap : 64 * 1024;
    while (cap < s->len + len) cap *= 2;
    unsigned char *d = realloc(s->data, cap);
    if (d == NULL) return 1;
    s->data = d;
    s->cap = cap;
  }
  if (len > 0) memcpy(s->data + s->len, buf, len);
  s->len += len;
  return 0;
}

static void test_failing_writer(void) {
  const char *log = path_of("fail-writer/mongod.log");
  write_log(log, 2 * 1024 * 1024);
  /* Fail at once (gzip, zstd), and in the middle of the stream (plain tar,
   * so that 2 MiB of log text does not compress into one write). */
  const struct {
    int64_t format;
    size_t fail_after;
  } cases[] = {{0, 1}, {1, 1}, {2, 100 * 1024}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    logpack_job *job = job_for(log, 2);
    EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_FORMAT, cases[i].format),
              LOGPACK_RESULT_OK);
    struct sink s = {0};
    s.fail_after = cases[i].fail_after;
    logpack_result rc = logpack_job_run_to_writer(job, on_write, &s);
    CHECK(s.failed, "the failing writer was never asked to write past %zu (%s)", s.fail_after,
          logpack_result_name(rc));
    CHECK(rc == LOGPACK_RESULT_OUTPUT,
          "a writer failing after %zu bytes: %s (accepted %zu bytes in %llu calls)", s.fail_after,
          logpack_result_name(rc), s.len, (unsigned long long)s.calls);
    CHECK(s.calls_after_failure == 0, "the writer was called %llu times after it failed",
          (unsigned long long)s.calls_after_failure);
    CHECK(s.off_thread == 0, "%d write calls off the calling thread", s.off_thread);
    CHECK(strstr(last_error(job), "5") != NULL, "the error does not give the callback's code: %s",
          last_error(job));
    const char *mj = NULL;
    size_t ml = 0;
    EXPECT_RC(logpack_job_manifest(job, &mj, &ml), LOGPACK_RESULT_INVALID_STATE);
    EXPECT_RC(logpack_job_run_to_writer(job, on_write, &s), LOGPACK_RESULT_INVALID_STATE);
    free(s.data);
    logpack_job_free(job);
  }
  ok("failing_writer");
}

static void test_stream(int64_t format) {
  const char *log = path_of("stream/mongod.log");
  if (!exists(log)) write_log(log, 1024 * 1024 + 5);
  logpack_job *job = job_for(log, 2);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_FORMAT, format), LOGPACK_RESULT_OK);
  struct sink s = {0};
  struct progress p = {0};
  p.monotonic = 1;
  EXPECT_RC(logpack_job_set_progress(job, on_progress, &p), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_run_to_writer(job, on_write, &s), LOGPACK_RESULT_OK);
  CHECK(s.calls > 0 && s.len > 512, "%zu bytes in %llu calls", s.len, (unsigned long long)s.calls);
  CHECK(s.off_thread == 0, "%d write calls off the calling thread", s.off_thread);
  CHECK(p.off_thread == 0, "%d progress calls off the calling thread", p.off_thread);
  CHECK(p.last_done == p.last_total && p.monotonic, "progress");
  switch (format) {
    case 0:
      CHECK(s.data[0] == 0x1f && s.data[1] == 0x8b, "not gzip: %02x %02x", s.data[0], s.data[1]);
      break;
    case 1:
      CHECK(s.data[0] == 0x28 && s.data[1] == 0xb5 && s.data[2] == 0x2f && s.data[3] == 0xfd,
            "not zstd: %02x %02x %02x %02x", s.data[0], s.data[1], s.data[2], s.data[3]);
      break;
    case 2:
      CHECK(memcmp(s.data + 257, "ustar", 5) == 0, "not tar");
      CHECK(s.len % 512 == 0, "tar of %zu bytes", s.len);
      break;
  }
  const char *m = manifest(job);
  CHECK(strstr(m, "\"status\":\"SUCCESS\"") != NULL, "manifest: %s", m);
  free(s.data);
  logpack_job_free(job);
}

static void test_streams(void) {
  test_stream(1);
  ok("stream_zstd");
  test_stream(0);
  test_stream(2);
  ok("stream_gzip_and_tar");
}

static void test_base_dir(void) {
  /* Relative paths in the request resolve against the base directory when
   * the job runs, whether it was set before or after the request. */
  write_log(path_of("based/rel/db/mongod.log"), 3000);
  const char *base = path_of("based/rel");
  const char *out = path_of("based/out.tar.gz");

  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  EXPECT_RC(set_request(job, request_for("db/mongod.log")), LOGPACK_RESULT_OK);
  /* The directory is pointer plus length: trailing bytes are not read. */
  char padded[1024];
  size_t blen = strlen(base);
  memcpy(padded, base, blen);
  memcpy(padded + blen, "/nope", 6);
  EXPECT_RC(logpack_job_set_base_dir(job, padded, blen), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_OK);
  const char *m = manifest(job);
  CHECK(strstr(m, "\"status\":\"SUCCESS\"") != NULL && strstr(m, "FAILURE") == NULL,
        "manifest: %s", m);
  logpack_job_free(job);

  /* Not a directory, or missing: IO, and the job keeps its old base. */
  job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  const char *missing = path_of("based/missing");
  EXPECT_RC(logpack_job_set_base_dir(job, missing, strlen(missing)), LOGPACK_RESULT_IO);
  CHECK(strstr(last_error(job), "missing") != NULL, "unhelpful error: %s", last_error(job));
  const char *file = path_of("based/rel/db/mongod.log");
  EXPECT_RC(logpack_job_set_base_dir(job, file, strlen(file)), LOGPACK_RESULT_IO);
  EXPECT_RC(logpack_job_set_base_dir(job, "", 0), LOGPACK_RESULT_IO);
  logpack_job_free(job);
  ok("base_dir");
}

static void test_non_utf8_paths(void) {
  /* A base directory and an output directory whose names are not UTF-8. */
  char base[1024], log[1024], outdir[1024], out[1024];
  format_into(base, sizeof base, "%s/latin1-\xe9t\xe9", root);
  format_into(log, sizeof log, "%s/db/mongod.log", base);
  write_log(log, 2000);
  format_into(outdir, sizeof outdir, "%s/out-\xff\xfe", root);
  mkdirs(outdir);
  format_into(out, sizeof out, "%s/archive-\x80.tar.gz", outdir);

  logpack_job *job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  EXPECT_RC(set_request(job, request_for("db/mongod.log")), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_base_dir(job, base, strlen(base)), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_OK);
  struct stat st;
  CHECK(stat(out, &st) == 0 && st.st_size > 0, "no archive at the non-UTF-8 path");
  CHECK(count_entries(outdir) == 1, "stray files in the output directory");
  const char *m = manifest(job);
  CHECK(strstr(m, "\"status\":\"SUCCESS\"") != NULL, "manifest: %s", m);
  logpack_job_free(job);

  /* A missing log under the non-UTF-8 base: PARTIAL, and the manifest (JSON,
   * so UTF-8) carries no raw non-UTF-8 byte of the path. */
  job = logpack_job_new();
  CHECK(job != NULL, "logpack_job_new returned NULL");
  EXPECT_RC(set_request(job, request_for("gone/mongod.log")), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_base_dir(job, base, strlen(base)), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_job_set_option(job, LOGPACK_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  format_into(out, sizeof out, "%s/partial.tar.gz", outdir);
  EXPECT_RC(run_to(job, out), LOGPACK_RESULT_PARTIAL);
  m = manifest(job);
  CHECK(strstr(m, "\"status\":\"FAILURE\"") != NULL, "manifest: %s", m);
  CHECK(strstr(m, "gone") != NULL, "the manifest does not name the path: %s", m);
  CHECK(strstr(m, "\xe9t\xe9") == NULL, "raw latin-1 bytes in the JSON manifest");
  logpack_job_free(job);
  ok("non_utf8_paths");
}

/* ---------------------------------------------------------- job store */

/* The store's last error as a NUL-terminated string (static buffer). */
static const char *store_error(const logpack_store *store) {
  static char buf[4096];
  size_t n = 12345;
  EXPECT_RC(logpack_store_last_error(store, buf, sizeof buf - 1, &n), LOGPACK_RESULT_OK);
  CHECK(n < sizeof buf, "out_len %zu larger than the buffer", n);
  buf[n] = '\0';
  return buf;
}

/* Checks a string handed out by the store: NUL-terminated, `len` bytes. */
static char *handed_out(char *s, size_t len) {
  CHECK(s != NULL, "a NULL string with OK");
  CHECK(s[len] == '\0' && strlen(s) == len, "length %zu disagrees with strlen %zu", len, strlen(s));
  return s;
}

#define EXPECT_REFUSAL(store, call, want, code)                                                    \
  do {                                                                                             \
    EXPECT_RC(call, want);                                                                         \
    const char *e_ = store_error(store);                                                           \
    CHECK(strncmp(e_, code ": ", strlen(code ": ")) == 0, "last error does not start with %s: %s", \
          code, e_);                                                                               \
  } while (0)

static logpack_store *store_at(const char *spool, int64_t threads) {
  logpack_store *store = logpack_store_new();
  CHECK(store != NULL, "logpack_store_new returned NULL");
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_THREADS, threads),
            LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_store_open(store, spool, strlen(spool)), LOGPACK_RESULT_OK);
  CHECK(strcmp(store_error(store), "") == 0, "an error after OK: %s", store_error(store));
  return store;
}

/* Creates a job; returns its id in `id` (25 bytes). */
static void create_job(logpack_store *store, const char *json, const char *base, char id[25]) {
  char *s = NULL;
  size_t n = 0;
  logpack_result rc = logpack_store_create(store, json, strlen(json), base,
                                           base ? strlen(base) : 0, &s, &n);
  CHECK(rc == LOGPACK_RESULT_OK, "create: %s: %s", logpack_result_name(rc), store_error(store));
  handed_out(s, n);
  CHECK(n == 24 && strspn(s, "0123456789abcdef") == 24, "id \"%s\"", s);
  memcpy(id, s, 25);
  logpack_string_free(s);
}

/* The job's JSON after waiting for it (a copy in a static buffer). */
static const char *wait_job(logpack_store *store, const char *id) {
  static char copy[1 << 16];
  char *s = NULL;
  size_t n = 0;
  logpack_result rc = logpack_store_wait(store, id, strlen(id), 120000, &s, &n);
  CHECK(rc == LOGPACK_RESULT_OK, "wait: %s: %s", logpack_result_name(rc), store_error(store));
  handed_out(s, n);
  CHECK(n < sizeof copy, "job JSON of %zu bytes", n);
  memcpy(copy, s, n + 1);
  logpack_string_free(s);
  CHECK(strstr(copy, "\"status\":\"IN_PROGRESS\"") == NULL, "still running after 120 s: %s", copy);
  return copy;
}

static const char *get_job(logpack_store *store, const char *id, int verbose) {
  static char copy[1 << 16];
  char *s = NULL;
  size_t n = 0;
  logpack_result rc = logpack_store_get(store, id, strlen(id), verbose, &s, &n);
  CHECK(rc == LOGPACK_RESULT_OK, "get: %s: %s", logpack_result_name(rc), store_error(store));
  handed_out(s, n);
  CHECK(n < sizeof copy, "job JSON of %zu bytes", n);
  memcpy(copy, s, n + 1);
  logpack_string_free(s);
  return copy;
}

/* A whole file, malloc'ed; its size in *len. */
static unsigned char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL, "open %s: %s", path, strerror(errno));
  size_t cap = 1 << 16, n = 0;
  unsigned char *data = malloc(cap);
  CHECK(data != NULL, "malloc");
  for (;;) {
    if (n == cap) {
      cap *= 2;
      data = realloc(data, cap);
      CHECK(data != NULL, "realloc");
    }
    size_t got = fread(data + n, 1, cap - n, f);
    if (got == 0) break;
    n += got;
  }
  CHECK(!ferror(f), "read %s", path);
  fclose(f);
  *len = n;
  return data;
}

static const char *sample_dir(void) {
  const char *d = getenv("LOGPACK_SAMPLE_DIR");
  return d != NULL && d[0] != '\0' ? d : "examples/sample";
}

static void test_store_nulls(void) {
  const char *spool = path_of("store-null/spool");
  const char *json = request_for("/nonexistent/mongod.log");
  const char *id = "0123456789abcdef01234567";
  size_t jl = strlen(json), il = strlen(id);
  char *s = (char *)"untouched";
  size_t n = 777;
  int dummy = 0;

  logpack_store_free(NULL);
  logpack_string_free(NULL);

  logpack_store *store = logpack_store_new();
  CHECK(store != NULL, "logpack_store_new returned NULL");
  CHECK(strcmp(store_error(store), "") == 0, "an error before any call");

  /* Every operation refuses NULL for a required pointer. */
  EXPECT_RC(logpack_store_set_option(NULL, LOGPACK_STORE_OPTION_THREADS, 1),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_open(NULL, spool, strlen(spool)), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_open(store, NULL, 3), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_create(NULL, json, jl, NULL, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_create(store, NULL, jl, NULL, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_create(store, json, jl, NULL, 0, NULL, &n),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_create(store, json, jl, NULL, 0, &s, NULL),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_wait(NULL, id, il, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_wait(store, NULL, il, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_wait(store, id, il, 0, NULL, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_wait(store, id, il, 0, &s, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_get(NULL, id, il, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_get(store, NULL, il, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_get(store, id, il, 0, NULL, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_get(store, id, il, 0, &s, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_list(NULL, 1, 10, 0, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_list(store, 1, 10, 0, NULL, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_list(store, 1, 10, 0, &s, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_path(NULL, id, il, spool, strlen(spool)),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_path(store, NULL, il, spool, strlen(spool)),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_path(store, id, il, NULL, 4), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_writer(NULL, id, il, on_write, &dummy),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_writer(store, NULL, il, on_write, &dummy),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_download_to_writer(store, id, il, NULL, &dummy),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_extend(NULL, id, il, "2030-01-01T00:00:00Z", 20, &s, &n),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_extend(store, NULL, il, "2030-01-01T00:00:00Z", 20, &s, &n),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_extend(store, id, il, NULL, 20, &s, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_extend(store, id, il, "2030-01-01T00:00:00Z", 20, NULL, &n),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_extend(store, id, il, "2030-01-01T00:00:00Z", 20, &s, NULL),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_retry(NULL, id, il), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_retry(store, NULL, il), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_delete(NULL, id, il), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_delete(store, NULL, il), LOGPACK_RESULT_NULL_PARAMETER);
  char buf[16];
  EXPECT_RC(logpack_store_last_error(NULL, buf, sizeof buf, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_last_error(store, buf, sizeof buf, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_store_last_error(store, NULL, 5, &n), LOGPACK_RESULT_NULL_PARAMETER);
  CHECK(strcmp(s, "untouched") == 0 && n == 777, "outputs written on failure");

  /* Before open: every operation is INVALID_STATE, with a message. */
  EXPECT_RC(logpack_store_list(store, 1, 10, 0, &s, &n), LOGPACK_RESULT_INVALID_STATE);
  CHECK(strstr(store_error(store), "logpack_store_open") != NULL, "unhelpful: %s",
        store_error(store));
  EXPECT_RC(logpack_store_create(store, json, jl, NULL, 0, &s, &n), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_store_get(store, id, il, 0, &s, &n), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_store_delete(store, id, il), LOGPACK_RESULT_INVALID_STATE);
  CHECK(strcmp(s, "untouched") == 0 && n == 777, "outputs written on failure");

  /* Options: known keys in range only. */
  EXPECT_RC(logpack_store_set_option(store, 99, 1), LOGPACK_RESULT_INVALID_OPTION);
  CHECK(strstr(store_error(store), "99") != NULL, "the key is not named: %s", store_error(store));
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_THREADS, 0),
            LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_MAX_IN_PROGRESS, 0),
            LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_MAX_IN_PROGRESS, INT64_MAX),
            LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_MAX_IN_PROGRESS, 2),
            LOGPACK_RESULT_OK);

  /* A spool that cannot be a directory: IO, and the handle stays usable. */
  const char *file = path_of("store-null/file");
  write_log(file, 10);
  char under[1024];
  format_into(under, sizeof under, "%s/spool", file);
  EXPECT_RC(logpack_store_open(store, under, strlen(under)), LOGPACK_RESULT_IO);
  CHECK(store_error(store)[0] != '\0', "IO without a message");
  EXPECT_RC(logpack_store_open(store, "", 0), LOGPACK_RESULT_IO);

  /* Pointer plus length: bytes after `len` are not read. */
  char padded[1024];
  size_t sl = strlen(spool);
  memcpy(padded, spool, sl);
  memcpy(padded + sl, "/nope", 6);
  EXPECT_RC(logpack_store_open(store, padded, sl), LOGPACK_RESULT_OK);
  CHECK(exists(spool) && !exists(padded), "the spool is not at %s", spool);
  EXPECT_RC(logpack_store_open(store, spool, sl), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_THREADS, 1),
            LOGPACK_RESULT_INVALID_STATE);

  /* An empty store. */
  EXPECT_RC(logpack_store_list(store, 1, 10, 0, &s, &n), LOGPACK_RESULT_OK);
  handed_out(s, n);
  CHECK(strstr(s, "\"totalCount\":0") != NULL, "list: %s", s);
  logpack_string_free(s);
  logpack_store_free(store);
  ok("store_null_parameters");
}

static void test_store(void) {
  /* The sample deployment, its request read from examples/sample. */
  const char *base = sample_dir();
  char request_path[1024];
  format_into(request_path, sizeof request_path, "%s/request.json", base);
  size_t rl = 0;
  unsigned char *raw = read_file(request_path, &rl);
  char *request = malloc(rl + 1);
  CHECK(request != NULL, "malloc");
  memcpy(request, raw, rl);
  request[rl] = '\0';
  free(raw);

  logpack_store *store = store_at(path_of("store/spool"), 2);
  char id[25];
  create_job(store, request, base, id);
  const char *job = wait_job(store, id);
  CHECK(strstr(job, "\"status\":\"SUCCESS\"") != NULL, "job: %s", job);
  job = get_job(store, id, 0);
  CHECK(strstr(job, "\"status\":\"SUCCESS\"") != NULL, "job: %s", job);
  CHECK(strstr(job, id) != NULL && strstr(job, "\"resourceName\":\"sampleCluster\"") != NULL,
        "job: %s", job);
  CHECK(strstr(job, "childJobs") == NULL, "childJobs without verbose: %s", job);
  job = get_job(store, id, 1);
  CHECK(strstr(job, "\"childJobs\":[{") != NULL, "no childJobs with verbose: %s", job);

  char *s = NULL;
  size_t n = 0;
  EXPECT_RC(logpack_store_list(store, 1, 10, 1, &s, &n), LOGPACK_RESULT_OK);
  handed_out(s, n);
  CHECK(strstr(s, "\"totalCount\":1") != NULL && strstr(s, id) != NULL, "list: %s", s);
  logpack_string_free(s);
  EXPECT_RC(logpack_store_list(store, 0, 10, 0, &s, &n), LOGPACK_RESULT_INVALID_REQUEST);
  EXPECT_RC(logpack_store_list(store, 1, 501, 0, &s, &n), LOGPACK_RESULT_INVALID_REQUEST);

  /* Download to a file, into a directory (under the job's archive name)
   * and to a writer: the same bytes, a gzip stream. */
  const char *out = path_of("store/out/job.tar.gz");
  mkdirs(path_of("store/out"));
  EXPECT_RC(logpack_store_download_to_path(store, id, 24, out, strlen(out)), LOGPACK_RESULT_OK);
  size_t fl = 0;
  unsigned char *file = read_file(out, &fl);
  CHECK(fl > 512 && file[0] == 0x1f && file[1] == 0x8b, "not a gzip archive: %zu bytes", fl);
  const char *dir = path_of("store/dir");
  mkdirs(dir);
  EXPECT_RC(logpack_store_download_to_path(store, id, 24, dir, strlen(dir)), LOGPACK_RESULT_OK);
  CHECK(count_entries(dir) == 1, "%d files in %s", count_entries(dir), dir);
  DIR *d = opendir(dir);
  CHECK(d != NULL, "opendir %s", dir);
  struct dirent *e;
  while ((e = readdir(d)) != NULL && e->d_name[0] == '.') {
  }
  CHECK(e != NULL && strncmp(e->d_name, "logs_sampleCluster_", 19) == 0 &&
            strcmp(e->d_name + strlen(e->d_name) - 7, ".tar.gz") == 0,
        "archive name %s", e ? e->d_name : "(none)");
  closedir(d);
  struct sink sk = {0};
  EXPECT_RC(logpack_store_download_to_writer(store, id, 24, on_write, &sk), LOGPACK_RESULT_OK);
  CHECK(sk.len == fl && memcmp(sk.data, file, fl) == 0, "the writer got %zu bytes, the file %zu",
        sk.len, fl);
  CHECK(sk.off_thread == 0, "%d write calls off the calling thread", sk.off_thread);
  free(sk.data);
  free(file);
  struct sink failing = {0};
  failing.fail_after = 1;
  EXPECT_RC(logpack_store_download_to_writer(store, id, 24, on_write, &failing),
            LOGPACK_RESULT_OUTPUT);
  free(failing.data);

  /* Extend: refusals carry their Ops Manager code; the outputs stay. */
  s = (char *)"untouched";
  n = 777;
  const char *past = "2001-02-03T04:05:06Z";
  EXPECT_REFUSAL(store, logpack_store_extend(store, id, 24, past, strlen(past), &s, &n),
                 LOGPACK_RESULT_REFUSED, "EXPIRATION_DATE_MUST_BE_IN_FUTURE");
  const char *far = "2999-01-01T00:00:00Z";
  EXPECT_REFUSAL(store, logpack_store_extend(store, id, 24, far, strlen(far), &s, &n),
                 LOGPACK_RESULT_REFUSED, "EXPIRATION_DATE_TOO_DISTANT");
  EXPECT_RC(logpack_store_extend(store, id, 24, "tomorrow", 8, &s, &n),
            LOGPACK_RESULT_INVALID_REQUEST);
  CHECK(strstr(store_error(store), "expirationDate") != NULL, "unhelpful: %s", store_error(store));
  CHECK(strcmp(s, "untouched") == 0 && n == 777, "outputs written on failure");
  /* ... and a date 40 days ahead is taken. */
  time_t later = time(NULL) + 40 * 24 * 3600;
  struct tm tm;
  CHECK(gmtime_r(&later, &tm) != NULL, "gmtime_r");
  char date[64];
  CHECK(strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0, "strftime");
  EXPECT_RC(logpack_store_extend(store, id, 24, date, strlen(date), &s, &n), LOGPACK_RESULT_OK);
  handed_out(s, n);
  char want[80];
  format_into(want, sizeof want, "\"expirationDate\":\"%.19s", date);
  CHECK(strstr(s, want) != NULL, "extended to %s: %s", date, s);
  logpack_string_free(s);

  /* Retry is for FAILURE jobs only; an unknown id is NOT_FOUND; a
   * malformed one INVALID_REQUEST. */
  EXPECT_REFUSAL(store, logpack_store_retry(store, id, 24), LOGPACK_RESULT_REFUSED,
                 "ONLY_FAILED_JOB_CAN_BE_RESTARTED");
  const char *unknown = "0123456789abcdef01234567";
  EXPECT_REFUSAL(store, logpack_store_get(store, unknown, 24, 0, &s, &n), LOGPACK_RESULT_NOT_FOUND,
                 "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
  EXPECT_RC(logpack_store_get(store, "xyz", 3, 0, &s, &n), LOGPACK_RESULT_INVALID_REQUEST);
  EXPECT_RC(logpack_store_get(store, "0123456789abcdef0123456\xff", 24, 0, &s, &n),
            LOGPACK_RESULT_INVALID_REQUEST);
  /* The id is pointer plus length too. */
  char padded_id[40];
  format_into(padded_id, sizeof padded_id, "%sgarbage", id);
  s = NULL;
  EXPECT_RC(logpack_store_get(store, padded_id, 24, 0, &s, &n), LOGPACK_RESULT_OK);
  logpack_string_free(handed_out(s, n));
  CHECK(strcmp(store_error(store), "") == 0, "an error after OK: %s", store_error(store));

  /* A second handle on the same spool sees the job; delete it there. */
  logpack_store *other = store_at(path_of("store/spool"), 1);
  EXPECT_RC(logpack_store_delete(other, id, 24), LOGPACK_RESULT_OK);
  EXPECT_REFUSAL(store, logpack_store_get(store, id, 24, 0, &s, &n), LOGPACK_RESULT_NOT_FOUND,
                 "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
  EXPECT_REFUSAL(store, logpack_store_download_to_path(store, id, 24, out, strlen(out)),
                 LOGPACK_RESULT_NOT_FOUND, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
  EXPECT_REFUSAL(other, logpack_store_delete(other, id, 24), LOGPACK_RESULT_NOT_FOUND,
                 "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP");
  logpack_store_free(other);
  logpack_store_free(store);
  free(request);
  ok("store");
}

static void test_store_retry_and_limits(void) {
  const char *spool = path_of("store-retry/spool");
  const char *log = path_of("store-retry/logs/mongod.log");
  mkdirs(path_of("store-retry/logs"));
  logpack_store *store = store_at(spool, 2);

  /* The log is missing: FAILURE, which downloads (its successful part). */
  char id[25];
  create_job(store, request_for(log), NULL, id);
  const char *job = wait_job(store, id);
  CHECK(strstr(job, "\"status\":\"FAILURE\"") != NULL, "job: %s", job);
  const char *out = path_of("store-retry/failed.tar.gz");
  EXPECT_RC(logpack_store_download_to_path(store, id, 24, out, strlen(out)), LOGPACK_RESULT_OK);
  CHECK(exists(out), "no download of the FAILURE job");

  /* The log appears: a retry (in the background) collects it. */
  write_log(log, 100 * 1000);
  EXPECT_RC(logpack_store_retry(store, id, 24), LOGPACK_RESULT_OK);
  job = wait_job(store, id);
  CHECK(strstr(job, "\"status\":\"SUCCESS\"") != NULL, "job after retry: %s", job);

  /* free waits for the runs the store started. */
  char id2[25];
  create_job(store, request_for(log), NULL, id2);
  logpack_store_free(store);
  store = store_at(spool, 2);
  job = get_job(store, id2, 0);
  CHECK(strstr(job, "\"status\":\"SUCCESS\"") != NULL, "job after free: %s", job);
  logpack_store_free(store);

  /* At most MAX_IN_PROGRESS jobs run at once: one more is BUSY. A big log
   * on one thread keeps the first job running; delete cancels it. */
  const char *big = path_of("store-retry/big/mongod.log");
  write_log(big, 64 * 1024 * 1024);
  store = logpack_store_new();
  CHECK(store != NULL, "logpack_store_new returned NULL");
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_THREADS, 1), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_store_set_option(store, LOGPACK_STORE_OPTION_MAX_IN_PROGRESS, 1),
            LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_store_open(store, spool, strlen(spool)), LOGPACK_RESULT_OK);
  char running[25];
  create_job(store, request_for(big), NULL, running);
  const char *json = request_for(log);
  char *s = (char *)"untouched";
  size_t n = 777;
  EXPECT_REFUSAL(store, logpack_store_create(store, json, strlen(json), NULL, 0, &s, &n),
                 LOGPACK_RESULT_BUSY, "RATE_LIMITED");
  CHECK(strcmp(s, "untouched") == 0 && n == 777, "outputs written on failure");
  double start = now_seconds();
  EXPECT_RC(logpack_store_delete(store, running, 24), LOGPACK_RESULT_OK);
  double took = now_seconds() - start;
  CHECK(took < 30, "delete of a running job took %.1f s", took);
  EXPECT_RC(logpack_store_get(store, running, 24, 0, &s, &n), LOGPACK_RESULT_NOT_FOUND);
  logpack_store_free(store);
  CHECK(remove(big) == 0, "remove %s", big);
  ok("store_retry_and_limits");
}

/* -------------------------------------------------------------- capture */

static const char *capture_error(const logpack_capture *capture) {
  static char buf[4096];
  size_t n = 12345;
  EXPECT_RC(logpack_capture_last_error(capture, buf, sizeof buf - 1, &n), LOGPACK_RESULT_OK);
  CHECK(n < sizeof buf, "out_len %zu larger than the buffer", n);
  buf[n] = '\0';
  return buf;
}

static logpack_capture *capture_for(const char *log_path, int64_t seconds) {
  logpack_capture *c = logpack_capture_new();
  CHECK(c != NULL, "logpack_capture_new returned NULL");
  const char *json = request_for(log_path);
  EXPECT_RC(logpack_capture_set_request(c, json, strlen(json)), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_capture_set_duration(c, seconds), LOGPACK_RESULT_OK);
  return c;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* Appends `lines` logv2 lines "<tag> <i>" to a log, the first after
 * `first_ms`, then one every 100 ms; then cancels `token` (if any) after
 * `cancel_ms` more. */
struct appender {
  const char *log;
  const char *tag;
  int lines;
  long first_ms, cancel_ms;
  logpack_cancel_token *token;
  logpack_result rc;
  double cancelled_at;
};

static void *append_thread(void *arg) {
  struct appender *a = arg;
  sleep_ms(a->first_ms);
  for (int i = 0; i < a->lines; i++) {
    if (i > 0) sleep_ms(100);
    char line[512];
    format_into(line, sizeof line,
                "{\"t\":{\"$date\":\"2024-05-01T12:00:00.000+00:00\"},\"s\":\"W\",\"c\":\"NETWORK\","
                "\"id\":4615,\"ctx\":\"smoke\",\"msg\":\"%s %d\",\"attr\":{\"n\":%d}}\n",
                a->tag, i, i);
    int fd = open(a->log, O_WRONLY | O_APPEND);
    CHECK(fd >= 0, "open %s: %s", a->log, strerror(errno));
    CHECK(write(fd, line, strlen(line)) == (ssize_t)strlen(line), "append to %s", a->log);
    CHECK(close(fd) == 0, "close %s", a->log);
  }
  if (a->token != NULL) {
    sleep_ms(a->cancel_ms);
    a->cancelled_at = now_seconds();
    a->rc = logpack_cancel_token_cancel(a->token);
  }
  return NULL;
}

/* Checks that the sink holds exactly `lines` ndjson records "<tag> <i>", in
 * order, each a JSON object on one line with the LogEntry fields. */
static void check_records(const struct sink *s, const char *tag, int lines) {
  int seen = 0;
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->data[i] != '\n') continue;
    char record[4096];
    size_t n = i - start;
    CHECK(n > 0 && n < sizeof record, "a record of %zu bytes", n);
    memcpy(record, s->data + start, n);
    record[n] = '\0';
    start = i + 1;
    CHECK(record[0] == '{' && record[n - 1] == '}', "not a JSON object: %s", record);
    CHECK(memchr(record, '\0', n) == NULL, "a NUL in %s", record);
    char want[128];
    format_into(want, sizeof want, "\"Message\":\"%s %d\"", tag, seen);
    CHECK(strstr(record, want) != NULL, "record %d is not %s: %s", seen, want, record);
    CHECK(strstr(record, "\"LogLevel\":\"Warning\"") != NULL, "no LogLevel: %s", record);
    CHECK(strstr(record, "\"Category\":\"NETWORK\"") != NULL, "no Category: %s", record);
    CHECK(strstr(record, "\"EventId\":4615") != NULL, "no EventId: %s", record);
    CHECK(strstr(record, "\"Host\":\"db1.example.net\"") != NULL, "no Host: %s", record);
    CHECK(strstr(record, "a line of the smoke test") == NULL, "an old line: %s", record);
    seen++;
  }
  CHECK(start == s->len, "%zu bytes after the last newline", s->len - start);
  CHECK(seen == lines, "%d records, expected %d", seen, lines);
}

static void test_capture_nulls(void) {
  logpack_capture_free(NULL);
  CHECK(logpack_capture_cancel_token(NULL) == NULL, "a token for a NULL capture");
  EXPECT_RC(logpack_capture_set_request(NULL, "{}", 2), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_base_dir(NULL, "/", 1), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_duration(NULL, 1), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_level(NULL, "WARN", 4), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_format(NULL, LOGPACK_CAPTURE_FORMAT_NDJSON),
            LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_redact(NULL, 1), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_run_to_writer(NULL, on_write, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  size_t n = 0;
  uint64_t e = 0, f = 0, files = 0;
  EXPECT_RC(logpack_capture_last_error(NULL, NULL, 0, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_counts(NULL, &e, &f, &files), LOGPACK_RESULT_NULL_PARAMETER);

  logpack_capture *c = logpack_capture_new();
  CHECK(c != NULL, "logpack_capture_new returned NULL");
  EXPECT_RC(logpack_capture_set_request(c, NULL, 0), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_base_dir(c, NULL, 0), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_set_level(c, NULL, 0), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_run_to_writer(c, NULL, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_last_error(c, NULL, 1, &n), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_last_error(c, NULL, 0, NULL), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_counts(c, NULL, &f, &files), LOGPACK_RESULT_NULL_PARAMETER);
  EXPECT_RC(logpack_capture_counts(c, &e, &f, &files), LOGPACK_RESULT_INVALID_STATE);
  /* Bad values, each named in the last error. */
  EXPECT_RC(logpack_capture_set_duration(c, -2), LOGPACK_RESULT_INVALID_OPTION);
  CHECK(strstr(capture_error(c), "duration") != NULL, "last error: %s", capture_error(c));
  EXPECT_RC(logpack_capture_set_format(c, 4), LOGPACK_RESULT_INVALID_OPTION);
  EXPECT_RC(logpack_capture_set_level(c, "LOUD", 4), LOGPACK_RESULT_INVALID_OPTION);
  CHECK(strstr(capture_error(c), "level") != NULL, "last error: %s", capture_error(c));
  EXPECT_RC(logpack_capture_set_level(c, "warning", 7), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_capture_set_level(c, "", 0), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_capture_set_format(c, LOGPACK_CAPTURE_FORMAT_SSE), LOGPACK_RESULT_OK);
  EXPECT_RC(logpack_capture_set_redact(c, 0), LOGPACK_RESULT_OK);
  /* No request yet. */
  EXPECT_RC(logpack_capture_run_to_writer(c, on_write, NULL), LOGPACK_RESULT_INVALID_STATE);
  const char *bad = "{\"hosts\":[{\"agentLogDir\":\"x\"}]}";
  EXPECT_RC(logpack_capture_set_request(c, bad, strlen(bad)), LOGPACK_RESULT_INVALID_REQUEST);
  CHECK(strncmp(capture_error(c), "hosts[0].hostname", 17) == 0, "last error: %s",
        capture_error(c));
  logpack_capture_free(c);
  ok("capture_null_parameters");
}

static void test_capture_duration(void) {
  const char *log = path_of("capture/logs/mongod.log");
  /* 100 whole old lines (75 bytes each), before the capture: not captured. */
  write_log(log, 100 * 75);
  logpack_capture *c = capture_for(log, 2);
  struct appender a = {log, "captured", 10, 500, 0, NULL, LOGPACK_RESULT_OK, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, append_thread, &a) == 0, "pthread_create");
  struct sink s = {0};
  double start = now_seconds();
  logpack_result rc = logpack_capture_run_to_writer(c, on_write, &s);
  double took = now_seconds() - start;
  CHECK(pthread_join(t, NULL) == 0, "pthread_join");
  if (rc != LOGPACK_RESULT_OK) fail(__FILE__, __LINE__, "capture: %s", capture_error(c));
  CHECK(took >= 1.9 && took < 10.0, "a 2 s capture took %.2f s", took);
  CHECK(s.off_thread == 0, "%d writes off the calling thread", s.off_thread);
  check_records(&s, "captured", 10);
  uint64_t entries = 0, filtered = 0, files = 0;
  EXPECT_RC(logpack_capture_counts(c, &entries, &filtered, &files), LOGPACK_RESULT_OK);
  CHECK(entries == 10 && filtered == 0 && files == 1, "counts %llu %llu %llu",
        (unsigned long long)entries, (unsigned long long)filtered, (unsigned long long)files);
  /* A capture runs once; its setters are refused after. */
  EXPECT_RC(logpack_capture_run_to_writer(c, on_write, &s), LOGPACK_RESULT_INVALID_STATE);
  EXPECT_RC(logpack_capture_set_duration(c, 1), LOGPACK_RESULT_INVALID_STATE);
  printf("  capture: %.3f s, %zu bytes, %llu records\n", took, s.len,
         (unsigned long long)entries);
  free(s.data);
  logpack_capture_free(c);
  ok("capture_duration");
}

static void test_capture_cancel(void) {
  const char *log = path_of("capture/logs/mongod.log");
  /* Until cancelled: another thread appends, then cancels. */
  logpack_capture *c = capture_for(log, -1);
  EXPECT_RC(logpack_capture_set_level(c, "WARN", 4), LOGPACK_RESULT_OK);
  logpack_cancel_token *token = logpack_capture_cancel_token(c);
  CHECK(token != NULL, "logpack_capture_cancel_token returned NULL");
  struct appender a = {log, "cancelled", 3, 500, 300, token, LOGPACK_RESULT_PANIC, 0};
  pthread_t t;
  CHECK(pthread_create(&t, NULL, append_thread, &a) == 0, "pthread_create");
  struct sink s = {0};
  double start = now_seconds();
  logpack_result rc = logpack_capture_run_to_writer(c, on_write, &s);
  double returned = now_seconds();
  CHECK(pthread_join(t, NULL) == 0, "pthread_join");
  if (rc != LOGPACK_RESULT_OK) fail(__FILE__, __LINE__, "capture: %s", capture_error(c));
  EXPECT_RC(a.rc, LOGPACK_RESULT_OK);
  CHECK(returned - a.cancelled_at < 2.0, "returned %.2f s after the cancel",
        returned - a.cancelled_at);
  CHECK(returned - start < 10.0, "ran %.2f s", returned - start);
  CHECK(s.off_thread == 0, "%d writes off the calling thread", s.off_thread);
  check_records(&s, "cancelled", 3);
  free(s.data);
  logpack_capture_free(c);
  /* The token outlives the capture. */
  EXPECT_RC(logpack_cancel_token_cancel(token), LOGPACK_RESULT_OK);
  logpack_cancel_token_free(token);

  /* A failing writer stops the capture with OUTPUT. */
  c = capture_for(log, -1);
  token = logpack_capture_cancel_token(c);
  struct appender b = {log, "failing", 2, 500, 1000, token, LOGPACK_RESULT_PANIC, 0};
  CHECK(pthread_create(&t, NULL, append_thread, &b) == 0, "pthread_create");
  struct sink f = {0};
  f.fail_after = 1;
  EXPECT_RC(logpack_capture_run_to_writer(c, on_write, &f), LOGPACK_RESULT_OUTPUT);
  CHECK(pthread_join(t, NULL) == 0, "pthread_join");
  CHECK(f.failed && f.calls_after_failure == 0, "writes after the failure: %llu",
        (unsigned long long)f.calls_after_failure);
  CHECK(strstr(capture_error(c), "callback") != NULL, "last error: %s", capture_error(c));
  free(f.data);
  logpack_capture_free(c);
  logpack_cancel_token_free(token);
  ok("capture_cancel_from_token");
}

struct running_capture {
  logpack_capture *capture;
  logpack_cancel_token *token;
  struct sink sink;
  logpack_result rc;
};

static void *capture_thread(void *arg) {
  struct running_capture *r = arg;
  r->rc = logpack_capture_run_to_writer(r->capture, on_write, &r->sink);
  return NULL;
}

static void test_capture_limit(void) {
  const char *log = path_of("capture/logs/mongod.log");
  struct running_capture r[3];
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    memset(&r[i], 0, sizeof r[i]);
    r[i].capture = capture_for(log, -1);
    r[i].token = logpack_capture_cancel_token(r[i].capture);
    CHECK(r[i].token != NULL, "token");
    CHECK(pthread_create(&t[i], NULL, capture_thread, &r[i]) == 0, "pthread_create");
  }
  /* A fourth is refused once the three have started. Give them a second
   * to start (a try before then could take a slot from one of them); a try
   * that still comes too early ends at once (duration 0) with OK. */
  sleep_ms(1000);
  double deadline = now_seconds() + 30;
  logpack_result rc = LOGPACK_RESULT_OK;
  while (rc == LOGPACK_RESULT_OK) {
    CHECK(now_seconds() < deadline, "a fourth capture was never refused");
    logpack_capture *c = capture_for(log, 0);
    struct sink s = {0};
    rc = logpack_capture_run_to_writer(c, on_write, &s);
    if (rc == LOGPACK_RESULT_BUSY) {
      CHECK(strncmp(capture_error(c), "RATE_LIMITED", 12) == 0, "last error: %s",
            capture_error(c));
    }
    free(s.data);
    logpack_capture_free(c);
    if (rc == LOGPACK_RESULT_OK) sleep_ms(100);
  }
  EXPECT_RC(rc, LOGPACK_RESULT_BUSY);
  for (int i = 0; i < 3; i++) EXPECT_RC(logpack_cancel_token_cancel(r[i].token), LOGPACK_RESULT_OK);
  for (int i = 0; i < 3; i++) {
    CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
    EXPECT_RC(r[i].rc, LOGPACK_RESULT_OK);
    free(r[i].sink.data);
    logpack_capture_free(r[i].capture);
    logpack_cancel_token_free(r[i].token);
  }
  /* The slots are free again. */
  logpack_capture *c = capture_for(log, 0);
  struct sink s = {0};
  EXPECT_RC(logpack_capture_run_to_writer(c, on_write, &s), LOGPACK_RESULT_OK);
  free(s.data);
  logpack_capture_free(c);
  ok("capture_limit");
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  main_thread = pthread_self();
  const char *tmp = getenv("TMPDIR");
  if (tmp == NULL || tmp[0] == '\0') tmp = "/tmp";
  format_into(root, sizeof root, "%s/logpack-smoke-XXXXXX", tmp);
  CHECK(mkdtemp(root) != NULL, "mkdtemp %s: %s", root, strerror(errno));
  printf("smoke: header %s, library %s, tree %s\n", LOGPACK_VERSION_STRING,
         logpack_version_string(), root);

  test_versions();
  test_result_names();
  test_nulls();
  test_bad_request();
  test_invalid_option();
  test_invalid_state();
  test_run_to_path();
  test_partial();
  test_progress();
  test_cancel_from_progress();
  test_cancel_from_token();
  test_cancel_before_run();
  test_failing_writer();
  test_streams();
  test_base_dir();
  test_non_utf8_paths();
  test_store_nulls();
  test_store();
  test_store_retry_and_limits();
  test_capture_nulls();
  test_capture_duration();
  test_capture_cancel();
  test_capture_limit();

  const char *keep = getenv("LOGPACK_SMOKE_KEEP");
  if (keep == NULL || keep[0] == '\0' || strcmp(keep, "0") == 0) {
    CHECK(nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0, "removing %s: %s", root,
          strerror(errno));
  }
  printf("smoke: all passed\n");
  return 0;
}
