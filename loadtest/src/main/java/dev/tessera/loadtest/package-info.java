/**
 * A Java gRPC load generator for the Tessera {@code Inference/Generate} RPC: N concurrent clients, each sending
 * requests back to back, measuring throughput, time to first token and inter-token latency.
 */
@NullMarked
package dev.tessera.loadtest;

import org.jspecify.annotations.NullMarked;
