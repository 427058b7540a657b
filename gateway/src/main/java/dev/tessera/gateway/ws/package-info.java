/**
 * The WebSocket bridge for browsers: the {@code tessera.v1.Inference/Session} protocol over one WebSocket per
 * client, each text frame one {@code SessionRequest} or {@code SessionResponse} in the protobuf JSON mapping, with
 * the same validation, multiplexing, cancellation, backpressure and draining as the gRPC Session.
 */
@NullMarked
package dev.tessera.gateway.ws;

import org.jspecify.annotations.NullMarked;
