/* The operator's recording key pair (X25519, PEM files): generating it without ever
 * overwriting a file, and loading either half with the checks a key file deserves. What a
 * key does to a recording is recording-format.c's. */
#include "cc-autoptr.h"
#include "cc-error.h"
#include "crypto.h"
#include "recording-file.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <unistd.h>

static void
set_key_error(GError **error, const char *path, const char *what)
{
    char buf[256];
    unsigned long code = ERR_get_error();
    ERR_error_string_n(code, buf, sizeof buf);
    ERR_clear_error();
    g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: %s%s%s", path, what, code ? ": " : "",
                code ? buf : "");
}

static int
create_exclusive(const char *path, mode_t mode, GError **error)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        int saved = errno;
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: %s", path, g_strerror(saved));
    }
    return fd;
}

/* Writes the PEM a BIO holds to fd, syncs and closes it. */
static gboolean
write_pem(int fd, BIO *bio, const char *path, GError **error)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    gboolean ok = len > 0 && write(fd, data, (size_t)len) == (ssize_t)len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = FALSE;
        saved = errno;
    }
    if (!ok)
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE, "%s: write failed: %s", path,
                    g_strerror(saved));
    return ok;
}

gboolean
cc_recording_keygen(const char *private_path, const char *public_path, GError **error)
{
    g_autoptr(EVP_PKEY) key = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    /* A secure-memory BIO is wiped when freed. */
    g_autoptr(BIO) private_pem = BIO_new(BIO_s_secmem());
    g_autoptr(BIO) public_pem = BIO_new(BIO_s_mem());
    if (key == NULL || private_pem == NULL || public_pem == NULL ||
        PEM_write_bio_PrivateKey(private_pem, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(public_pem, key) != 1) {
        set_key_error(error, private_path, "generating an X25519 key");
        return FALSE;
    }
    int private_fd = create_exclusive(private_path, 0600, error);
    if (private_fd < 0)
        return FALSE;
    int public_fd = create_exclusive(public_path, 0644, error);
    if (public_fd < 0) {
        close(private_fd);
        unlink(private_path);
        return FALSE;
    }
    gboolean private_ok = write_pem(private_fd, private_pem, private_path, error);
    gboolean public_ok = write_pem(public_fd, public_pem, public_path, private_ok ? error : NULL);
    if (!private_ok || !public_ok) {
        unlink(private_path);
        unlink(public_path);
        return FALSE;
    }
    return TRUE;
}

static gboolean
check_x25519(EVP_PKEY *key, const char *path, GError **error)
{
    if (!EVP_PKEY_is_a(key, "X25519")) {
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE,
                    "%s: a %s key, recordings need an X25519 key (conclavectl recording keygen)",
                    path, EVP_PKEY_get0_type_name(key));
        return FALSE;
    }
    return TRUE;
}

EVP_PKEY *
cc_recording_public_key_load(const char *path, GError **error)
{
    g_autofree char *pem = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &pem, &len, error))
        return NULL;
    if (strstr(pem, "PRIVATE KEY") != NULL) {
        OPENSSL_cleanse(pem, len);
        g_set_error(error, CC_ERROR, CC_ERROR_KEY_FILE,
                    "%s: this is a private key; the server needs only the public key", path);
        return NULL;
    }
    g_autoptr(BIO) bio = BIO_new_mem_buf(pem, (int)MIN(len, (gsize)G_MAXINT));
    g_autoptr(EVP_PKEY) key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    if (key == NULL) {
        set_key_error(error, path, "not a PEM public key");
        return NULL;
    }
    if (!check_x25519(key, path, error))
        return NULL;
    return g_steal_pointer(&key);
}

EVP_PKEY *
cc_recording_private_key_load(const char *path, GError **error)
{
    g_autofree char *pem = NULL;
    gsize len = 0;
    if (!cc_file_check_private(path, error) || !g_file_get_contents(path, &pem, &len, error))
        return NULL;
    g_autoptr(BIO) bio = BIO_new_mem_buf(pem, (int)MIN(len, (gsize)G_MAXINT));
    /* An empty passphrase callback: an encrypted key is refused, never prompted for. */
    g_autoptr(EVP_PKEY) key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    OPENSSL_cleanse(pem, len);
    if (key == NULL) {
        set_key_error(error, path, "not an unencrypted PEM private key");
        return NULL;
    }
    if (!check_x25519(key, path, error))
        return NULL;
    return g_steal_pointer(&key);
}
