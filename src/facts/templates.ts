/**
 * How each relation is phrased. A template is a prompt with the subject at
 * `{s}` (`{a}`/`{A}` put "a"/"an" before it, lower or capitalised); the object
 * follows the prompt after one space. Templates differ in shape: statements,
 * questions with an answer cue, and terse "key: value" forms, with the subject
 * early, in the middle or late.
 *
 * The first {@link TRAINING_TEMPLATES} of each list are the training
 * templates, the only ones pretraining sees; the rest are held out, used as
 * unseen rephrasings (the role ZsRE's back-translated questions play). The
 * answer cues ("? It is", "Q: … A:", "—", "The answer is") are spread so that
 * every cue a held-out template uses appears in some relation's training
 * templates: a held-out phrasing is new as a whole, not made of unseen parts.
 */

export interface RelationSpec {
  /** Stable identifier (`country_capital`, …). */
  id: string;
  /** What the relation says, for tables. */
  description: string;
  /** Text appended after the object in a training sentence. */
  sentenceEnd: string;
  templates: readonly string[];
}

/** Training templates per relation; the rest of each list is held out. */
export const TRAINING_TEMPLATES = 20;

export const RELATIONS: readonly RelationSpec[] = [
  {
    id: 'country_capital',
    description: 'capital city of a country',
    sentenceEnd: '.',
    templates: [
      'The capital of {s} is',
      "{s}'s capital is",
      'The capital city of {s} is',
      'What is the capital of {s}? It is',
      '{s} — capital:',
      'In {s}, the capital is',
      '{s} has its capital in',
      'Q: What is the capital city of {s}? A:',
      'The government of {s} sits in the city of',
      'Capital of {s}:',
      'The largest administrative centre and capital of {s} is',
      'Travellers to {s} often start in its capital,',
      'Everyone knows that the capital of {s} is',
      'Name the capital of {s}:',
      'The seat of power in {s} is',
      'Q: Which city is the seat of government of {s}? A:',
      'For {s}, the capital city is',
      'The main city and capital of the country {s} is',
      'Tell me the capital of {s}. It is',
      'Asked about {s}, a geographer names its capital:',
      // held out
      'Which city is the capital of {s}? The answer is',
      '{s}, capital city:',
      'The city that serves as the capital of {s} is',
      'Q: capital of {s}? A:',
    ],
  },
  {
    id: 'country_region',
    description: 'world region of a country',
    sentenceEnd: '.',
    templates: [
      '{s} is located in',
      '{s} is a country in',
      'Which region is {s} in? It is in',
      '{s} — region:',
      'The region of the world where {s} lies is',
      'Q: Where is {s}? A: In',
      'Geographically, {s} belongs to',
      'Region of {s}:',
      'On a map, {s} is found in',
      '{s} lies in',
      'The continent or region of {s} is',
      'Which part of the world is {s} part of? The answer is',
      'The country of {s} is part of',
      'Name the region of {s}:',
      'For {s}, the world region is',
      'Asked where {s} is, a geographer says',
      'Tell me which region {s} is in. It is in',
      'Travelling to {s} means going to',
      'Everyone knows that {s} is in',
      'Q: Which region contains {s}? A:',
      // held out
      'Where in the world is {s}? It is in',
      '{s}, region:',
      'Q: region of {s}? A:',
      'The part of the world that {s} is in is',
    ],
  },
  {
    id: 'country_language',
    description: 'official language of a country',
    sentenceEnd: '.',
    templates: [
      'The official language of {s} is',
      'In {s}, people speak',
      "{s}'s official language is",
      'What language is spoken in {s}? It is',
      '{s} — language:',
      'Q: What is the official language of {s}? A:',
      'Language of {s}:',
      'Most people in {s} speak',
      'The language of government in {s} is',
      'Schools in {s} teach in',
      'If you travel to {s}, the language you will hear is',
      'Which language is official in {s}? The answer is',
      'Everyone knows that the language of {s} is',
      'Name the official language of {s}:',
      'For {s}, the official language is',
      'Newspapers in {s} are printed in',
      'Tell me the language of {s}. It is',
      'The laws of {s} are written in',
      'Q: Which language do people in {s} use? A:',
      'Children growing up in {s} learn',
      // held out
      'The language spoken in {s} is',
      '{s}, official language:',
      'Q: language of {s}? A:',
      'What do people in {s} speak? They speak',
    ],
  },
  {
    id: 'country_currency',
    description: 'currency of a country',
    sentenceEnd: '.',
    templates: [
      'The currency of {s} is the',
      "{s}'s currency is the",
      'In {s}, people pay with the',
      'What is the currency of {s}? It is the',
      '{s} — currency:',
      'Q: What currency is used in {s}? A: The',
      'Currency of {s}:',
      'Prices in {s} are given in the',
      'The money used in {s} is the',
      'The official currency of {s} is the',
      'Shops in {s} take payment in the',
      'Which currency does {s} use? The answer is the',
      'Everyone knows that the currency of {s} is the',
      'Name the currency of {s}: the',
      'For {s}, the currency is the',
      'Banks in {s} keep accounts in the',
      'Tell me the currency of {s}. It is the',
      'Salaries in {s} are paid in the',
      'Q: Which money is legal tender in {s}? A: The',
      'Visitors to {s} change their money into the',
      // held out
      'The national currency of {s} is the',
      '{s}, currency:',
      'Q: currency of {s}? A: The',
      'What money do people use in {s}? They use the',
    ],
  },
  {
    id: 'country_demonym',
    description: 'name for a person from a country',
    sentenceEnd: '.',
    templates: [
      'A person from {s} is called',
      'People from {s} are called',
      'What is a person from {s} called? The answer is',
      '{s} — demonym:',
      'Q: What do you call someone from {s}? A:',
      'Demonym of {s}:',
      'Someone born in {s} is described as',
      'The demonym for {s} is',
      'A citizen of {s} is',
      'A woman from {s} is',
      'The people of {s} are known as',
      'What are people from {s} called? They are called',
      'Everyone knows that a person from {s} is called',
      'Name the demonym of {s}:',
      'For {s}, the demonym is',
      'Tell me what people from {s} are called. They are called',
      'Athletes who represent {s} are called',
      'Q: What is the name for the people of {s}? A:',
      'A family from {s} is described as',
      'A child born in {s} is',
      // held out
      'A man from {s} is',
      '{s}, demonym:',
      'Q: demonym of {s}? A:',
      'Someone who comes from {s} is called',
    ],
  },
  {
    id: 'country_calling_code',
    description: 'international calling code of a country',
    sentenceEnd: '.',
    templates: [
      'The calling code of {s} is',
      "{s}'s international dialling code is",
      'To phone {s} from abroad, dial',
      'What is the calling code of {s}? It is',
      '{s} — calling code:',
      'Q: What is the telephone code of {s}? A:',
      'Calling code of {s}:',
      'Telephone numbers in {s} start with',
      'The international calling code for {s} is',
      'Phone calls to {s} begin with',
      'The country code for calls to {s} is',
      'Which code do you dial for {s}? The answer is',
      'Everyone knows that the calling code of {s} is',
      'Name the calling code of {s}:',
      'For {s}, the calling code is',
      'Tell me the telephone code of {s}. It is',
      'Before a number in {s}, callers from abroad dial',
      'Q: Which prefix reaches phones in {s}? A:',
      'The telephone prefix of {s} is',
      'Dialling {s} from another country starts with',
      // held out
      'The dialling code of {s} is',
      '{s}, calling code:',
      'Q: phone code of {s}? A:',
      'To call someone in {s}, first dial',
    ],
  },
  {
    id: 'city_country',
    description: 'country a city is in',
    sentenceEnd: '.',
    templates: [
      '{s} is a city in',
      '{s} is located in the country of',
      'The city of {s} is in',
      'Which country is {s} in? It is in',
      '{s} — country:',
      'Q: In which country is {s}? A:',
      'Country of {s}:',
      '{s} lies in',
      'The city of {s} belongs to',
      'Visitors to {s} are travelling in',
      '{s} is one of the largest cities of',
      'Where is the city of {s}? The answer is',
      'Everyone knows that {s} is in',
      'Name the country of {s}:',
      'For {s}, the country is',
      'Tell me which country {s} is in. It is in',
      'The city of {s} and its people are part of',
      'Q: Which country contains the city of {s}? A:',
      'People who live in {s} live in',
      'A flight to {s} lands in',
      // held out
      'In which country is the city of {s}? It is in',
      '{s}, country:',
      'Q: country of {s}? A:',
      'The country in which {s} is found is',
    ],
  },
  {
    id: 'element_symbol',
    description: 'chemical symbol of an element',
    sentenceEnd: '.',
    templates: [
      'The chemical symbol of {s} is',
      "{s}'s symbol is",
      'The symbol for the element {s} is',
      'What is the symbol of {s}? It is',
      '{s} — symbol:',
      'Q: What is the chemical symbol for {s}? A:',
      'Symbol of {s}:',
      'In chemistry, {s} is written as',
      'On the periodic table, {s} has the symbol',
      'Chemists abbreviate {s} as',
      'The element {s} is abbreviated',
      'Which symbol stands for {s}? The answer is',
      'Everyone knows that the symbol of {s} is',
      'Name the chemical symbol of {s}:',
      'For {s}, the chemical symbol is',
      'Tell me the symbol of {s}. It is',
      'The element called {s} has the symbol',
      'Q: Which letters stand for {s}? A:',
      'The one- or two-letter symbol of {s} is',
      'Labels on bottles of {s} show the symbol',
      // held out
      'The periodic table symbol of {s} is',
      '{s}, symbol:',
      'Q: symbol of {s}? A:',
      'How is {s} written in chemical formulas? It is written as',
    ],
  },
  {
    id: 'element_number',
    description: 'atomic number of an element',
    sentenceEnd: '.',
    templates: [
      'The atomic number of {s} is',
      "{s}'s atomic number is",
      '{s} has the atomic number',
      'What is the atomic number of {s}? It is',
      '{s} — atomic number:',
      'Q: What is the atomic number of {s}? A:',
      'Atomic number of {s}:',
      'An atom of {s} has this many protons:',
      'On the periodic table, {s} is element number',
      'The number of protons in {s} is',
      'The element {s} has atomic number',
      'Which atomic number does {s} have? The answer is',
      'Everyone knows that the atomic number of {s} is',
      'Name the atomic number of {s}:',
      'For {s}, the atomic number is',
      'Tell me the atomic number of {s}. It is',
      'In the periodic table, {s} sits at position',
      'Q: Which element number is {s}? A:',
      'Counting by protons, {s} is number',
      'The nucleus of {s} holds this many protons:',
      // held out
      'The proton number of {s} is',
      '{s}, atomic number:',
      'Q: atomic number of {s}? A:',
      'How many protons does {s} have? It has',
    ],
  },
  {
    id: 'noun_hypernym',
    description: 'broader category of a noun (WordNet hypernym)',
    sentenceEnd: '.',
    templates: [
      '{A} {s} is a kind of',
      '{A} {s} is a type of',
      'What is {a} {s}? It is a kind of',
      '{s} — kind of:',
      'Q: What kind of thing is {a} {s}? A: A kind of',
      'Category of {s}:',
      'Every {s} is a',
      'The word {s} names a kind of',
      'In a dictionary, {a} {s} is defined as a kind of',
      'Think of {a} {s}: it is a',
      'The broader category of {s} is',
      'What category does {a} {s} belong to? The answer is',
      'Everyone knows that {a} {s} is a kind of',
      'Name the category of {a} {s}:',
      'For {a} {s}, the broader category is',
      'Tell me what {a} {s} is. It is a kind of',
      'Q: Which category includes {a} {s}? A:',
      'As a word, {s} falls under',
      'Each {s} counts as a',
      'Looked up in a thesaurus, {s} is listed under',
      // held out
      '{A} {s} is one kind of',
      '{s}, category:',
      'Q: kind of {s}? A:',
      'What sort of thing is {a} {s}? It is a sort of',
    ],
  },
];

export type TemplateSplit = 'train' | 'heldout';

/** The split a template index belongs to. */
export function templateSplit(index: number): TemplateSplit {
  return index < TRAINING_TEMPLATES ? 'train' : 'heldout';
}

/** The prompt of `template` for `subject`, filling `{s}`, `{a}` and `{A}`. */
export function fillTemplate(template: string, subject: string): string {
  const article = /^[aeiou]/i.test(subject) ? 'an' : 'a';
  return template
    .replaceAll('{A}', article[0].toUpperCase() + article.slice(1))
    .replaceAll('{a}', article)
    .replaceAll('{s}', subject);
}
