package dev.tessera.engine.diffusion;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One converted graph open in ONNX Runtime (CPU, optimization level ALL, no spinning). The single owner of its
 * {@link OrtSession}: {@link #close()} it. Inputs are wrapped for one call and closed with its result.
 */
public final class OrtGraph implements AutoCloseable {
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final Path file;

    private OrtGraph(OrtSession session, Path file) {
        this.session = session;
        this.file = file;
    }

    public static OrtGraph open(Path file, int threads) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            opts.setIntraOpNumThreads(threads);
            opts.addConfigEntry("session.intra_op.allow_spinning", "0");
            return new OrtGraph(env.createSession(file.toString(), opts), file);
        } catch (OrtException e) {
            throw new IllegalStateException("cannot open " + file + ": " + e.getMessage(), e);
        }
    }

    /** One named input: float or int64 values and their shape. */
    public record Input(String name, Object values, long[] shape) {
        public static Input floats(String name, float[] values, long... shape) {
            return new Input(name, values, shape);
        }

        public static Input longs(String name, long[] values, long... shape) {
            return new Input(name, values, shape);
        }
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    /**
     * Runs the graph and returns its only (or first) output, flattened. Each input reads the first
     * product-of-shape values of its array, so callers may pass buffers larger than one call needs.
     */
    public float[] run(Input... inputs) {
        return run(false, inputs)[0];
    }

    /** Runs the graph and returns every output, flattened, in the graph's output order. As {@link #run}. */
    public float[][] runAll(Input... inputs) {
        return run(true, inputs);
    }

    private float[][] run(boolean all, Input... inputs) {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Input in : inputs) {
                int n = Math.toIntExact(elements(in.shape()));
                OnnxTensor t = in.values() instanceof float[] f
                        ? OnnxTensor.createTensor(env, FloatBuffer.wrap(f, 0, n), in.shape())
                        : OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) in.values(), 0, n), in.shape());
                feed.put(in.name(), t);
            }
            try (OrtSession.Result r = session.run(feed)) {
                float[][] outs = new float[all ? r.size() : 1][];
                for (int i = 0; i < outs.length; i++) {
                    FloatBuffer b = ((OnnxTensor) r.get(i)).getFloatBuffer();
                    outs[i] = new float[b.remaining()];
                    b.get(outs[i]);
                }
                return outs;
            }
        } catch (OrtException e) {
            throw new IllegalStateException(file.getFileName() + ": " + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new IllegalStateException("cannot close " + file, e);
        }
    }
}
