/**
 * {@code bench gateway}: the same generate workload through the gateway (gRPC on loopback) and in-process, in one
 * run, plus the startup time of {@code serve}.
 */
@NullMarked
package dev.tessera.gateway.bench;

import org.jspecify.annotations.NullMarked;
