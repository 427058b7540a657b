/**
 * The Java attention kernels (Vector API, FlashAttention style, GQA-aware): {@link
 * dev.tessera.engine.attention.PagedAttention} (causal, over the paged KV cache) and {@link
 * dev.tessera.engine.attention.PackedAttention} (bidirectional, over packed spans), sharing their tile loops and one
 * {@link dev.tessera.engine.attention.AttentionWorkers} pool.
 */
@NullMarked
package dev.tessera.engine.attention;

import org.jspecify.annotations.NullMarked;
