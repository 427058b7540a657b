package dev.tessera.scheduler.core;

/**
 * One served model on the {@link WorkLoop}: its step policy (which jobs run in the next step, and how they are
 * packed) and its executor. Each kind plugs in its own: text's planner and step runner, detection's frame batcher,
 * and later a denoise planner. Every method runs on the loop thread.
 *
 * @param <J> the kind's job type
 */
public interface Lane<J extends Job<?>> {
    /** The served model's name (for logs, stats and fairness). */
    String name();

    /** A new job joins (already validated and prepared off the loop thread). */
    void admit(J job);

    /**
     * Its subscriber cancelled {@code job}: drop it and free what it holds before the next step. Also called for a
     * job cancelled on its way to {@link #admit} (never admitted), so that the lane gives back what it counted.
     */
    void cancel(J job);

    /** True while the lane holds any job, runnable now or not. */
    boolean busy();

    /**
     * Plans and runs one step.
     *
     * @return false when nothing could run now (every job is paused for demand, or waits for memory)
     */
    boolean step();

    /** The loop stops: end every job still held with {@code failure}. */
    void shutdown(JobFailure failure);
}
