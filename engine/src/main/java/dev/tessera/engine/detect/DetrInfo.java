package dev.tessera.engine.detect;

import java.util.List;

/**
 * What a loaded detector is.
 *
 * @param name          the served name
 * @param architecture  {@code DetrForObjectDetection}
 * @param backbone      the backbone: layout, name, depths and widths (for example
 *                      {@code timm resnet50 (bottleneck, depths [3, 4, 6, 3], widths [256, 512, 1024, 2048])})
 * @param dModel        transformer width
 * @param encoderLayers encoder layers
 * @param decoderLayers decoder layers
 * @param numQueries    object queries (the most detections per frame)
 * @param labels        label names; index = label id; the real classes only (no-object excluded)
 * @param preprocessing what is done to an image before the model (resize, rescale, normalize)
 */
public record DetrInfo(String name, String architecture, String backbone, int dModel, int encoderLayers,
                       int decoderLayers, int numQueries, List<String> labels, String preprocessing) {
    public DetrInfo {
        labels = List.copyOf(labels);
    }

    public int numLabels() {
        return labels.size();
    }
}
