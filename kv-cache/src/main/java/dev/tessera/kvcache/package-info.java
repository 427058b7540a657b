/**
 * Memory for attention: the paged KV block pool ({@link dev.tessera.kvcache.KvStore}), block tables with ref counts,
 * copy-on-write and prefix caching ({@link dev.tessera.kvcache.PagedKvCache}). Pure Java; depends on nothing else
 * of the project. The attention kernel's own scratch lives with the kernel, in the engine.
 */
@NullMarked
package dev.tessera.kvcache;

import org.jspecify.annotations.NullMarked;
