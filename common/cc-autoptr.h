/* Cleanup functions for foreign types, so that g_autoptr() works on them everywhere. */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <strophe.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmpp_stanza_t, xmpp_stanza_release)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MAC, EVP_MAC_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MAC_CTX, EVP_MAC_CTX_free)
