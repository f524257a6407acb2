import { constants } from 'node:os';

const namesByNumber = new Map<number, string>();
for (const [name, number] of Object.entries(constants.signals)) {
  // Some numbers have aliases (SIGIOT = SIGABRT, SIGPOLL = SIGIO); keep the first, canonical one.
  if (!namesByNumber.has(number)) namesByNumber.set(number, name);
}

/** 11 -> 'SIGSEGV'; an unknown number -> 'SIG<n>' (real-time signals have no name). */
export function signalName(signalNumber: number): string {
  return namesByNumber.get(signalNumber) ?? `SIG${signalNumber}`;
}
