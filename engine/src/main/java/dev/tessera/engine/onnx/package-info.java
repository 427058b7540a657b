/** A Java ONNX graph builder over the ONNX IR subset in {@code onnx.proto}. */
@NullMarked
package dev.tessera.engine.onnx;

import org.jspecify.annotations.NullMarked;
