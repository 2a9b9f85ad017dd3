/*
 * lambda_sync(function_arn, payload): Aurora MySQL's native function, as a
 * loadable function (UDF) for MariaDB, so that a trigger's SQL runs unchanged
 * on a laptop.
 *
 * It POSTs the payload to the Lambda Invoke API of the endpoint named by the
 * server's environment, AWS_ENDPOINT_URL_LAMBDA (default
 * http://127.0.0.1:9001), at /2015-03-31/functions/{arn}/invocations, and
 * returns the response body. A transport failure, a status other than 200 or
 * an X-Amz-Function-Error header is an SQL error naming the function, the
 * status and the start of the body.
 *
 * Settings, read from mariadbd's environment (the server cannot see session
 * variables):
 *   AWS_ENDPOINT_URL_LAMBDA               base URL of the Invoke API
 *   FIBTRIGGER_LAMBDA_CONNECT_TIMEOUT_MS  connect timeout (default 2000)
 *   FIBTRIGGER_LAMBDA_TIMEOUT_MS          whole-call timeout (default 60000)
 *
 * Build: gcc -shared -fPIC -O2 $(mariadb_config --cflags) lambda_sync.c -lcurl
 * (no libmariadb: the server itself provides my_printf_error and the THD API).
 */

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mysql.h>

#define DEFAULT_ENDPOINT "http://127.0.0.1:9001"
#define DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define DEFAULT_TIMEOUT_MS 60000L
/* Lambda's own limit for a synchronous response payload. */
#define MAX_RESPONSE_BYTES (6L * 1024 * 1024)
/* How much of a failed response's body goes into the SQL error. */
#define BODY_EXCERPT_CHARS 160
/* Aurora MySQL reports Lambda API failures as error 1873. */
#define LAMBDA_API_ERROR 1873
#define QUERY_INTERRUPTED_ERROR 1317
#define ME_NONE 0UL

/* Exported by mariadbd. Weak, so that a missing symbol degrades (no kill
 * check) instead of making the library unloadable. */
extern void my_printf_error(unsigned int error, const char *format, unsigned long flags, ...);
extern void *_current_thd(void) __attribute__((weak));
extern int thd_kill_level(const void *thd) __attribute__((weak));

/* ---- one curl handle per server thread, kept alive across rows ---------- */

struct handle {
  CURL *curl;
  struct handle *next;
};

static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct handle *handles; /* every live handle, for cleanup on unload */
static pthread_key_t handle_key;
static int handle_key_ready;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_ok;

static void forget_handle(struct handle *h) {
  struct handle **at;
  for (at = &handles; *at; at = &(*at)->next) {
    if (*at == h) {
      *at = h->next;
      return;
    }
  }
}

/* Runs when a server thread exits. */
static void release_thread_handle(void *value) {
  struct handle *h = value;
  pthread_mutex_lock(&handles_lock);
  forget_handle(h);
  pthread_mutex_unlock(&handles_lock);
  curl_easy_cleanup(h->curl);
  free(h);
}

static void global_init(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return;
  if (pthread_key_create(&handle_key, release_thread_handle) != 0)
    return;
  handle_key_ready = 1;
  global_ok = 1;
}

/* Runs on dlclose (DROP FUNCTION, server shutdown). The key is deleted first
 * so no thread-exit destructor can point into unmapped code; the handles of
 * threads that are still alive are cleaned up here instead. No call is in
 * progress: the server unloads a UDF only when nothing uses it. */
__attribute__((destructor)) static void unload(void) {
  struct handle *h;
  if (!handle_key_ready)
    return;
  pthread_key_delete(handle_key);
  handle_key_ready = 0;
  pthread_mutex_lock(&handles_lock);
  while ((h = handles) != NULL) {
    handles = h->next;
    curl_easy_cleanup(h->curl);
    free(h);
  }
  pthread_mutex_unlock(&handles_lock);
  curl_global_cleanup();
}

static CURL *thread_handle(void) {
  struct handle *h = pthread_getspecific(handle_key);
  if (h)
    return h->curl;
  h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->curl = curl_easy_init();
  if (!h->curl) {
    free(h);
    return NULL;
  }
  pthread_mutex_lock(&handles_lock);
  h->next = handles;
  handles = h;
  pthread_mutex_unlock(&handles_lock);
  pthread_setspecific(handle_key, h);
  return h->curl;
}

/* ---- one call ----------------------------------------------------------- */

struct call {
  char *body;
  size_t length;
  int too_large;
  char function_error[64]; /* X-Amz-Function-Error, if the response had one */
  void *thd;
  int killed;
};

static size_t on_body(char *data, size_t size, size_t count, void *user) {
  struct call *call = user;
  size_t n = size * count;
  char *grown;
  if (call->length + n > (size_t)MAX_RESPONSE_BYTES) {
    call->too_large = 1;
    return 0;
  }
  grown = realloc(call->body, call->length + n + 1);
  if (!grown)
    return 0;
  memcpy(grown + call->length, data, n);
  call->body = grown;
  call->length += n;
  call->body[call->length] = '\0';
  return n;
}

static size_t on_header(char *data, size_t size, size_t count, void *user) {
  static const char name[] = "x-amz-function-error:";
  struct call *call = user;
  size_t n = size * count, i, k = 0;
  if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
    for (i = sizeof name - 1; i < n && isspace((unsigned char)data[i]); i++)
      ;
    while (i < n && k < sizeof call->function_error - 1 && !isspace((unsigned char)data[i]))
      call->function_error[k++] = data[i++];
    call->function_error[k] = '\0';
    if (k == 0)
      strcpy(call->function_error, "Unhandled");
  }
  return n;
}

/* KILL QUERY and max_statement_time set the thread's kill flag; curl calls
 * this about once a second even while the peer sends nothing. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  struct call *call = user;
  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  if (call->thd && thd_kill_level && thd_kill_level(call->thd) != 0) {
    call->killed = 1;
    return 1;
  }
  return 0;
}

static long env_ms(const char *name, long fallback) {
  const char *text = getenv(name);
  char *end;
  long value;
  if (!text || !*text)
    return fallback;
  value = strtol(text, &end, 10);
  return (*end == '\0' && value > 0) ? value : fallback;
}

/* Percent-encode everything but unreserved characters and ':' (an ARN's
 * separators stay readable; the Invoke API accepts both forms). */
static char *escape_path_segment(const char *text, size_t length) {
  static const char hex[] = "0123456789ABCDEF";
  char *out = malloc(length * 3 + 1), *p = out;
  size_t i;
  if (!out)
    return NULL;
  for (i = 0; i < length; i++) {
    unsigned char c = (unsigned char)text[i];
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  return out;
}

/* The start of a body, on one line, for an error message. */
static void excerpt(const char *body, size_t length, char *out, size_t room) {
  size_t i, k = 0;
  for (i = 0; i < length && k + 4 < room && k < BODY_EXCERPT_CHARS; i++)
    out[k++] = (body[i] == '\n' || body[i] == '\r' || body[i] == '\t') ? ' ' : body[i];
  if (i < length && k + 4 < room) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
}

/* ---- the UDF interface -------------------------------------------------- */

my_bool lambda_sync_init(UDF_INIT *initid, UDF_ARGS *args, char *message) {
  if (args->arg_count != 2) {
    strcpy(message, "lambda_sync(function_arn, payload) takes exactly two arguments");
    return 1;
  }
  args->arg_type[0] = STRING_RESULT;
  args->arg_type[1] = STRING_RESULT;
  pthread_once(&global_once, global_init);
  if (!global_ok) {
    strcpy(message, "lambda_sync: libcurl could not be initialised");
    return 1;
  }
  initid->maybe_null = 1;
  initid->const_item = 0;
  initid->max_length = (unsigned int)MAX_RESPONSE_BYTES;
  initid->ptr = NULL;
  return 0;
}

void lambda_sync_deinit(UDF_INIT *initid) {
  free(initid->ptr);
  initid->ptr = NULL;
}

char *lambda_sync(UDF_INIT *initid, UDF_ARGS *args, char *result, unsigned long *length,
                  char *is_null, char *error) {
  const char *endpoint = getenv("AWS_ENDPOINT_URL_LAMBDA");
  char function[256], url[2048], body_start[BODY_EXCERPT_CHARS + 8];
  struct call call;
  struct curl_slist *headers = NULL;
  char *escaped;
  size_t base_length;
  CURL *curl;
  CURLcode code;
  long status = 0;
  (void)result;

  free(initid->ptr);
  initid->ptr = NULL;
  *is_null = 0;
  if (!args->args[0] || !args->args[1]) {
    my_printf_error(LAMBDA_API_ERROR, "lambda_sync: the %s is NULL", ME_NONE,
                    args->args[0] ? "payload" : "function ARN");
    *error = 1;
    return NULL;
  }
  snprintf(function, sizeof function, "%.*s", (int)args->lengths[0], args->args[0]);
  if (!endpoint || !*endpoint)
    endpoint = DEFAULT_ENDPOINT;
  base_length = strlen(endpoint);
  while (base_length > 0 && endpoint[base_length - 1] == '/')
    base_length--;
  escaped = escape_path_segment(args->args[0], args->lengths[0]);
  curl = thread_handle();
  if (!escaped || !curl) {
    free(escaped);
    my_printf_error(LAMBDA_API_ERROR, "lambda_sync(%s): out of memory", ME_NONE, function);
    *error = 1;
    return NULL;
  }
  snprintf(url, sizeof url, "%.*s/2015-03-31/functions/%s/invocations", (int)base_length, endpoint,
           escaped);
  free(escaped);

  memset(&call, 0, sizeof call);
  call.thd = _current_thd ? _current_thd() : NULL;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "X-Amz-Invocation-Type: RequestResponse");
  headers = curl_slist_append(headers, "Expect:");

  /* Reset keeps the handle's connection cache: the next row reuses the socket. */
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, args->args[1]);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)args->lengths[1]);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &call);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &call);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &call);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   env_ms("FIBTRIGGER_LAMBDA_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   env_ms("FIBTRIGGER_LAMBDA_TIMEOUT_MS", DEFAULT_TIMEOUT_MS));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);

  code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  excerpt(call.body ? call.body : "", call.length, body_start, sizeof body_start);

  if (call.killed) {
    my_printf_error(QUERY_INTERRUPTED_ERROR,
                    "lambda_sync(%s): interrupted by KILL QUERY or max_statement_time", ME_NONE,
                    function);
  } else if (call.too_large) {
    my_printf_error(LAMBDA_API_ERROR, "lambda_sync(%s): response larger than %ld bytes from %s",
                    ME_NONE, function, MAX_RESPONSE_BYTES, url);
  } else if (code != CURLE_OK) {
    my_printf_error(LAMBDA_API_ERROR,
                    "lambda_sync(%s): Lambda API returned error: %s (endpoint %.*s, "
                    "AWS_ENDPOINT_URL_LAMBDA of the server)",
                    ME_NONE, function, curl_easy_strerror(code), (int)base_length, endpoint);
  } else if (call.function_error[0]) {
    my_printf_error(LAMBDA_API_ERROR, "lambda_sync(%s): function error (%s), HTTP %ld: %s",
                    ME_NONE, function, call.function_error, status, body_start);
  } else if (status != 200) {
    my_printf_error(LAMBDA_API_ERROR, "lambda_sync(%s): Lambda API returned HTTP %ld: %s", ME_NONE,
                    function, status, body_start);
  } else {
    initid->ptr = call.body ? call.body : calloc(1, 1);
    *length = call.length;
    return initid->ptr;
  }
  free(call.body);
  *error = 1;
  return NULL;
}
