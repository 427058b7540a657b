package dev.tessera.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.tessera.engine.onnx.OrtResources;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One ORT attention graph with inputs {@code q}, {@code k}, {@code v} and output {@code out}, over pinned direct
 * buffers holding the same q/k/v as the Java kernel it is compared with, so that a timed {@link #run()} is ORT's
 * work alone. Owns its session and tensors: {@link #close()} it (a failed construction closes what it opened).
 */
final class QkvCall implements AutoCloseable {
    /** The output, written in place by every {@link #run()}. */
    final FloatBuffer output;
    private final OrtSession session;
    private final List<OnnxTensor> tensors = new ArrayList<>();
    private final Map<String, OnnxTensor> inputs = new HashMap<>();
    private final Map<String, OnnxTensor> outputs = new HashMap<>();

    /**
     * @param model  the graph's bytes
     * @param arena  ORT's CPU arena (off for a peak-memory probe, so each call's allocations show)
     * @param qShape the shape of {@code q} and of the output; {@code kShape} that of {@code k} and {@code v}
     */
    QkvCall(OrtEnvironment env, byte[] model, int threads, boolean arena, long[] qShape, long[] kShape,
            float[] q, float[] k, float[] v) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setCPUArenaAllocator(arena);
            // Idle workers stop spinning when a call returns, so they do not take a core from the kernel timed next.
            options.addConfigEntry("session.force_spinning_stop", "1");
            session = env.createSession(model, options);
        }
        try {
            inputs.put("q", pinned(env, q, qShape));
            inputs.put("k", pinned(env, k, kShape));
            inputs.put("v", pinned(env, v, kShape));
            output = OrtResources.directFloats(q.length);
            outputs.put("out", track(OnnxTensor.createTensor(env, output, qShape)));
        } catch (OrtException | RuntimeException e) {
            close();
            throw e;
        }
    }

    void run() throws OrtException {
        session.run(inputs, outputs).close();
    }

    private OnnxTensor pinned(OrtEnvironment env, float[] data, long[] shape) throws OrtException {
        FloatBuffer b = OrtResources.directFloats(data.length);
        b.put(0, data);
        return track(OnnxTensor.createTensor(env, b, shape));
    }

    private OnnxTensor track(OnnxTensor t) {
        tensors.add(t);
        return t;
    }

    @Override
    public void close() throws OrtException {
        for (OnnxTensor t : tensors) t.close();
        session.close();
    }
}
