/**
 * How a load run sends: gRPC {@code Generate} (one call per request), gRPC {@code Session} (every request a job on
 * one bidirectional stream) and the OpenAI HTTP API over server-sent events. Each reports to the same
 * {@link dev.tessera.loadtest.measure.RequestTrace}.
 */
@NullMarked
package dev.tessera.loadtest.transport;

import org.jspecify.annotations.NullMarked;
