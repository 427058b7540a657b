/** The Java attention kernel: causal, variable-length, paged, FlashAttention-style, GQA-aware, on the Vector API. */
@NullMarked
package dev.tessera.engine.attention;

import org.jspecify.annotations.NullMarked;
