package dev.tessera.engine.detect;

/**
 * One detected object, in pixels of the original image.
 *
 * @param labelId the class id (index into the model's labels)
 * @param label   the class name ({@code id2label})
 * @param score   the class probability (softmax over all classes, the no-object class included)
 * @param xMin    left edge
 * @param yMin    top edge
 * @param xMax    right edge
 * @param yMax    bottom edge
 * @param query   the object query that produced it (ties in score are broken by it, lower first)
 */
public record Detection(int labelId, String label, float score, float xMin, float yMin, float xMax, float yMax,
                        int query) {
}
