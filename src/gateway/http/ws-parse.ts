/**
 * graphql-ws parses a subscribe message's document itself and, when that throws, closes
 * the whole socket with 4500 (internal error), ending every other operation on it and
 * sending the parser's message as the close reason. This hook parses first and answers a
 * document that does not parse with an `error` message for that operation alone, which
 * the gateway's error formatting turns into BAD_USER_INPUT as over HTTP.
 */
import { GraphQLError, parse } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';

export function refuseUnparsableDocuments(_ctx: unknown, _id: string, payload: SubscribePayload): readonly GraphQLError[] | undefined {
  try {
    parse(payload.query);
    return undefined;
  } catch (err) {
    if (err instanceof GraphQLError) return [err];
    // The parser recurses: a document nested deep enough overflows the stack.
    if (err instanceof RangeError) return [new GraphQLError('Syntax Error: the document is nested too deeply to parse; send a flatter one.')];
    throw err;
  }
}
