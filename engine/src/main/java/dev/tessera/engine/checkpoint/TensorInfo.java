package dev.tessera.engine.checkpoint;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor's entry in a safetensors header.
 *
 * @param file  the safetensors file that holds it
 * @param name  tensor name
 * @param dtype element type
 * @param shape dimensions
 * @param begin absolute byte offset of the data in the file
 * @param end   absolute end offset (exclusive)
 */
public record TensorInfo(Path file, String name, DType dtype, long[] shape, long begin, long end) {
    public long elements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    public long byteSize() {
        return end - begin;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }
}
