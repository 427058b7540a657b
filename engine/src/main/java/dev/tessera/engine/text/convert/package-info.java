/** Checkpoint → ONNX segment graphs (one per layer boundary), cached on disk by content hash. */
@NullMarked
package dev.tessera.engine.text.convert;

import org.jspecify.annotations.NullMarked;
