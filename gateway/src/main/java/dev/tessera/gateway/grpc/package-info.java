/**
 * The tessera.v1.Inference gRPC service on the Vert.x gRPC server: request validation, proto mapping and backpressured streaming of scheduler events.
 */
@NullMarked
package dev.tessera.gateway.grpc;

import org.jspecify.annotations.NullMarked;
