/**
 * Prometheus metrics under the names Kubernetes inference routers read (vllm:...).
 */
@NullMarked
package dev.tessera.gateway.metrics;

import org.jspecify.annotations.NullMarked;
