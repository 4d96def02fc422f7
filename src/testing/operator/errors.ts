/**
 * The error of the test operator's scripting API. Private to the test kit;
 * re-exported by `TestOperator`.
 */
import * as Data from "effect/Data"

/**
 * What {@link TestOperatorShape.issueToken} and friends fail with: bad input
 * or no usable key.
 *
 * @since 0.1.0
 * @category errors
 */
export class TestOperatorError extends Data.TaggedError("TestOperatorError")<{ readonly detail: string }> {
  override get message() {
    return `test operator: ${this.detail}`
  }
}
