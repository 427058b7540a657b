package dev.tessera.loadtest.sweep;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A one-line progress bar, redrawn on a terminal stream a few times a second from its own daemon thread: requests
 * ended out of the bound, in flight, elapsed time. {@link #none()} draws nothing.
 */
public final class Progress implements AutoCloseable {
    /** A progress that draws nothing. */
    public static Progress none() {
        return new Progress(null, "", 1, 1);
    }

    private final @Nullable PrintStream out;
    private final String label;
    private final int total;
    private final long durationNanos;
    private final long start = System.nanoTime();
    private final AtomicInteger sent = new AtomicInteger();
    private final AtomicInteger ended = new AtomicInteger();
    private final @Nullable Thread painter;
    private volatile boolean open = true;

    private Progress(@Nullable PrintStream out, String label, int total, long durationNanos) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.durationNanos = durationNanos;
        if (out == null) {
            painter = null;
            return;
        }
        painter = new Thread(this::paintLoop, "loadtest-progress");
        painter.setDaemon(true);
        painter.start();
    }

    /** A bar on {@code out} for a run of at most {@code total} requests and {@code durationNanos}. */
    public static Progress on(PrintStream out, String label, int total, long durationNanos) {
        return new Progress(out, label, total, durationNanos);
    }

    void sent() {
        sent.incrementAndGet();
    }

    void ended() {
        ended.incrementAndGet();
    }

    private void paintLoop() {
        while (open) {
            paint();
            try {
                Thread.sleep(250); // a redraw period, not a synchronization
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void paint() {
        PrintStream out = this.out;
        if (out == null) return;
        long elapsed = System.nanoTime() - start;
        double done = Math.max(ended.get() / (double) total, Math.min(1.0, elapsed / (double) durationNanos));
        int width = 30;
        int filled = (int) Math.min(width, Math.round(done * width));
        out.print(String.format(Locale.ROOT, "\r%s [%s%s] %d done, %d in flight, %.1fs ", label,
                "#".repeat(filled), ".".repeat(width - filled), ended.get(), sent.get() - ended.get(), elapsed / 1e9));
        out.flush();
    }

    @Override
    public void close() {
        Thread painter = this.painter;
        if (painter == null || out == null) return;
        open = false;
        painter.interrupt();
        try {
            painter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        paint();
        out.println();
    }
}
