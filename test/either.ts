import * as Either from "effect/Either"

/** The Right value, or a test failure naming the Left. */
export const right = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got Left: ${String(e.left)}`)
  return e.right
}

/** The Left value, or a test failure naming the Right. */
export const left = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error(`expected Left, got Right: ${String(e.right)}`)
  return e.left
}
