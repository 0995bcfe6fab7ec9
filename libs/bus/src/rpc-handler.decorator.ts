import { MessagePattern } from '@nestjs/microservices';
import type { Contract } from '#libs/contracts';

export const CONTRACT_EXTRA = 'switchboardContract';

/** Marks a method as the handler of `contract`: the bus parses its request and reply with the contract's schemas. */
export function RpcHandler(contract: Contract): MethodDecorator {
  return MessagePattern(contract.subject, { [CONTRACT_EXTRA]: contract });
}
