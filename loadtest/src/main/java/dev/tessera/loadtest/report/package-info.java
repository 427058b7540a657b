/** The report directory of a sweep: PNG plots (XChart) and an {@code index.html} embedding them. */
@NullMarked
package dev.tessera.loadtest.report;

import org.jspecify.annotations.NullMarked;
