/**
 * The network edge: one Vert.x HTTP/2 cleartext server carrying gRPC (with reflection and health), /metrics, /healthz and /readyz.
 */
@NullMarked
package dev.tessera.gateway;

import org.jspecify.annotations.NullMarked;
