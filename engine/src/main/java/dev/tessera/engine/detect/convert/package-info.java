/**
 * DETR checkpoint → ONNX graphs, cached on disk: {@link dev.tessera.engine.detect.convert.DetrWeights} finds and
 * shape-checks every tensor (inferring the ResNet's depths and widths from the names and shapes, in timm's or
 * transformers' layout); {@link dev.tessera.engine.detect.convert.DetrConverter} folds the frozen BatchNorms into
 * the convolutions and writes the backbone graph and the encoder/decoder segment graphs
 * ({@link dev.tessera.engine.detect.convert.DetrGraphs} names their inputs and outputs).
 */
@NullMarked
package dev.tessera.engine.detect.convert;

import org.jspecify.annotations.NullMarked;
