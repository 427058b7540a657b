/**
 * Memory for attention: the paged KV block pool ({@link dev.tessera.kvcache.KvStore}), block tables with ref counts,
 * copy-on-write and prefix caching ({@link dev.tessera.kvcache.PagedKvCache}), and per-worker attention scratch
 * ({@link dev.tessera.kvcache.ScratchPool}). Pure Java; depends on nothing else of the project.
 */
@NullMarked
package dev.tessera.kvcache;

import org.jspecify.annotations.NullMarked;
