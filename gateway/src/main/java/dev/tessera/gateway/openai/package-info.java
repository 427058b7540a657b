/**
 * The OpenAI-compatible HTTP API on the gateway's port: {@code GET /v1/models}, {@code POST /v1/completions},
 * {@code POST /v1/chat/completions} (JSON, or server-sent events with {@code stream}) and
 * {@code POST /v1/images/generations} (501: not wired to the diffusion lane yet). Requests map onto the serving core's domain
 * requests (which validate, off the event loop); events stream back with demand tied to the HTTP response's write
 * queue, and a client that goes away cancels its job. Errors have OpenAI's shape and statuses.
 */
@NullMarked
package dev.tessera.gateway.openai;

import org.jspecify.annotations.NullMarked;
