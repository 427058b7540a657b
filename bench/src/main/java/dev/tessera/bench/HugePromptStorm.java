package dev.tessera.bench;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A hostile client of {@code bench overload}: 4 MB prompts (over the model's byte bound, so each is refused) sent
 * one after another on one connection, alternately as a {@code Generate} request and as a {@code Session} message,
 * each after the last one's answer (a closed loop), counted. Runs in a process of its own ({@link Child},
 * {@link #main}; the measure's storm, at nice 19, so that the canary beside it is measured without the storm's own
 * CPU, GC and transport threads in the canary client's JVM or at its priority) or in the bench's JVM (a thread).
 */
final class HugePromptStorm {
    private HugePromptStorm() {
    }

    /** Sends until interrupted, {@code pauseMs} after each refusal (0: none), telling the refusals so far. */
    static void run(ManagedChannel storm, long pauseMs, LongConsumer refusedSoFar) throws InterruptedException {
        run(storm, pauseMs, refusedSoFar, Gate.OPEN);
    }

    /**
     * The prompt, held as UTF-8 bytes and built once per JVM: the client encodes it once, not at every send, and a
     * storm started at a canary's first token sends its first prompt at once.
     */
    private static final class Huge {
        static final GenerateRequest GENERATE = GenerateRequest.newBuilder()
                .setPromptBytes(ByteString.copyFromUtf8("a".repeat(4_000_000)))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build();
        static final SessionRequest SESSION = SessionRequest.newBuilder().setRequestId("huge").setGenerate(GENERATE)
                .build();
    }

    /**
     * Whether the storm may send its next prompt: {@link #await} returns at once while it is open and blocks while it
     * is shut, running {@code onStopped} once each time the storm stops there (no prompt of its then in flight).
     */
    static final class Gate {
        static final Gate OPEN = new Gate(true, () -> { });
        private final Runnable onStopped;
        private boolean open;
        private boolean told;

        Gate(boolean open, Runnable onStopped) {
            this.open = open;
            this.onStopped = onStopped;
        }

        synchronized void set(boolean open) {
            if (this.open && !open) told = false;
            this.open = open;
            notifyAll();
        }

        synchronized void await() throws InterruptedException {
            while (!open) {
                if (!told) {
                    told = true;
                    onStopped.run();
                }
                wait();
            }
        }
    }

    private static void run(ManagedChannel storm, long pauseMs, LongConsumer refusedSoFar, Gate gate)
            throws InterruptedException {
        GenerateRequest huge = Huge.GENERATE;
        SessionRequest hugeSession = Huge.SESSION;
        boolean session = false;
        long refused = 0;
        while (!Thread.currentThread().isInterrupted()) {
            gate.await();
            if (session) {
                sessionOnce(storm, hugeSession);
            } else {
                try {
                    InferenceGrpc.newBlockingStub(storm).generate(huge).forEachRemaining(m -> { });
                } catch (RuntimeException expected) {
                    // INVALID_ARGUMENT: the prompt is over the limit, as intended
                }
            }
            session = !session;
            refusedSoFar.accept(++refused);
            if (pauseMs > 0) Thread.sleep(pauseMs);
        }
    }

    /** One Session carrying {@code message}: waits for its answer (a JobError), then ends the Session. */
    private static void sessionOnce(ManagedChannel channel, SessionRequest message) throws InterruptedException {
        CountDownLatch answered = new CountDownLatch(1);
        StreamObserver<SessionRequest> requests = InferenceGrpc.newStub(channel).session(new StreamObserver<>() {
            @Override
            public void onNext(SessionResponse value) {
                answered.countDown();
            }

            @Override
            public void onError(Throwable t) {
                answered.countDown();
            }

            @Override
            public void onCompleted() {
                answered.countDown();
            }
        });
        requests.onNext(message);
        answered.await(30, TimeUnit.SECONDS);
        requests.onCompleted();
    }

    /**
     * A storm in a child process, started storming: its refusals so far, read from the lines it prints; {@link #pause}
     * and {@link #resume} stop and restart it between prompts.
     */
    static final class Child implements AutoCloseable {
        private final Process process;
        private final Writer commands;
        private final AtomicLong refused = new AtomicLong();
        private final Semaphore stopped = new Semaphore(0);

        private Child(Process process) {
            this.process = process;
            this.commands = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread reader = new Thread(() -> {
                try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = lines.readLine()) != null; ) {
                        if (line.startsWith("refused ")) refused.set(Long.parseLong(line.substring(8).trim()));
                        else if (line.equals(PAUSED)) stopped.release();
                    }
                } catch (IOException | NumberFormatException e) {
                    // the child ended
                }
            }, "storm-child-reader");
            reader.setDaemon(true);
            reader.start();
        }

        /**
         * Starts {@code java -cp <this classpath> HugePromptStorm port} with this JVM's java, under {@code nice -n
         * nice} when {@code nice} > 0 (every thread of it, its compilers and collector too).
         */
        static Child start(int port, int nice) throws IOException {
            String java = ProcessHandle.current().info().command().orElse("java");
            List<String> command = new ArrayList<>();
            if (nice > 0) command.addAll(List.of("nice", "-n", Integer.toString(nice)));
            command.addAll(List.of(java, "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                    HugePromptStorm.class.getName(), Integer.toString(port)));
            return new Child(new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start());
        }

        long refused() {
            return refused.get();
        }

        long pid() {
            return process.pid();
        }

        /** Waits until the child has had {@code n} prompts refused (its JVM started, its loop running). */
        void awaitRefused(long n, long timeoutMs) throws InterruptedException {
            long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (refused.get() < n) {
                if (!process.isAlive() || System.nanoTime() > end) {
                    throw new IllegalStateException("the storm process had " + refused.get() + " prompts refused, "
                            + "not " + n + (process.isAlive() ? " in time" : "; it ended with " + process.exitValue()));
                }
                Thread.sleep(10);
            }
        }

        /** Stops the storm before its next prompt and waits until it has (its last prompt answered). */
        void pause() throws IOException, InterruptedException {
            send(PAUSE);
            if (!stopped.tryAcquire(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the storm process did not pause within 30 s");
            }
        }

        /** Lets a paused storm go on. */
        void resume() throws IOException {
            send(RESUME);
        }

        private void send(String command) throws IOException {
            commands.write(command + "\n");
            commands.flush();
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        }
    }

    private static final String PAUSE = "pause";
    private static final String RESUME = "resume";
    private static final String PAUSED = "paused";

    /**
     * The storm in a process of its own: {@code port}; prints {@code refused N} after each refusal; reads
     * {@code pause} (it prints {@code paused} once stopped) and {@code resume} lines on its standard input; ends when
     * that closes (the bench ended) or it is stopped.
     */
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Gate gate = new Gate(true, () -> {
            System.out.println(PAUSED);
            System.out.flush();
        });
        Thread commands = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.equals(PAUSE)) gate.set(false);
                    else if (line.equals(RESUME)) gate.set(true);
                }
            } catch (IOException e) {
                // the same: the bench is gone
            }
            System.exit(0);
        }, "stdin-commands");
        commands.setDaemon(true);
        commands.start();
        ManagedChannel storm = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            run(storm, 0, n -> {
                System.out.println("refused " + n);
                System.out.flush();
            }, gate);
        } finally {
            storm.shutdownNow();
        }
    }
}
